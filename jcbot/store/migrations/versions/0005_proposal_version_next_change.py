"""proposal versions carry the instant their verdict can next change with time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 14:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposal_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_change_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_proposal_version_next_change_at'), ['next_change_at'], unique=False)
    # Versions still open change next at their deadline (the core's rule when this was written);
    # the first sweep after the upgrade judges them and rewrites the value from the verdict.
    op.execute("UPDATE proposal_version SET next_change_at = deadline "
               "WHERE status IN ('open', 'objected') AND distributed_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('proposal_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_version_next_change_at'))
        batch_op.drop_column('next_change_at')
