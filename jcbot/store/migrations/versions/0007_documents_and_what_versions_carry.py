"""Documents by SHA-256, their content in the database when so configured, the documents each
proposal version carries, and the hashes each assertion was made on

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 17:05:42.248353
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('sheets', sa.Text(), nullable=True),
    sa.Column('stored_in', sa.String(length=16), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('sha256', name=op.f('uq_document_sha256'))
    )
    op.create_table('document_content',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_document_content'))
    )
    op.create_table('proposal_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('items', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_proposal_document_document_id_document')),
    sa.ForeignKeyConstraint(['version_id'], ['proposal_version.id'], name=op.f('fk_proposal_document_version_id_proposal_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_document')),
    sa.UniqueConstraint('version_id', 'document_id', name='uq_proposal_document_version_document'),
    sa.UniqueConstraint('version_id', 'name', name='uq_proposal_document_version_name')
    )
    with op.batch_alter_table('proposal_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_document_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposal_document_version_id'), ['version_id'], unique=False)

    # Assertions recorded before this keep NULL: nothing says which documents they saw.
    with op.batch_alter_table('assertion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('documents', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('assertion', schema=None) as batch_op:
        batch_op.drop_column('documents')

    with op.batch_alter_table('proposal_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_document_version_id'))
        batch_op.drop_index(batch_op.f('ix_proposal_document_document_id'))

    op.drop_table('proposal_document')
    op.drop_table('document_content')
    op.drop_table('document')
