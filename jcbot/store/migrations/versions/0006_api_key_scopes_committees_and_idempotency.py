"""API keys get scopes and a committee list; POSTs with an Idempotency-Key are remembered

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys made before scopes existed keep what they could do: read, on every committee.
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=64), nullable=False, server_default='read'))
        batch_op.add_column(sa.Column('committees', sa.Text(), nullable=True))
    op.create_table('api_idempotency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_key.id'], name=op.f('fk_api_idempotency_api_key_id_api_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency')),
    sa.UniqueConstraint('api_key_id', 'key', name='uq_api_idempotency_api_key_id_key')
    )


def downgrade() -> None:
    op.drop_table('api_idempotency')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('committees')
        batch_op.drop_column('scopes')
