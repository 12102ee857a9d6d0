"""outbox status bounced

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 18:20:00.000000
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A message the relay accepted and a delivery status notification later said failed
    # (issue 14): a status of its own, as it was sent and is no longer retried.
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_message_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_message_status'),
                                         "status IN ('pending', 'sending', 'sent', 'failed', 'bounced')")


def downgrade() -> None:
    # A bounced message was sent: that is what it was before the bounce was known.
    op.execute("UPDATE outbox_message SET status = 'sent' WHERE status = 'bounced'")
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_message_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_message_status'),
                                         "status IN ('pending', 'sending', 'sent', 'failed')")
