"""outbox claims carry the worker and the in-flight instant

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:52:29.689193
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table; PostgreSQL adds the columns in place.
    # Rows 'sending' under an old 5-minute lease keep it and are claimed when it lapses.
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('in_flight_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('in_flight_since')
        batch_op.drop_column('claimed_by')
