"""Partial failures: a crawl that succeeded with some parts failing keeps its warnings (in the run
record and on the source), and a child document that keeps failing is counted.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_failures',
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('alerted', sa.Boolean(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('url')
    )
    op.create_index(op.f('ix_document_failures_source'), 'document_failures', ['source'], unique=False)
    with op.batch_alter_table('run_sources') as table:
        table.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
    with op.batch_alter_table('source_state') as table:
        table.add_column(sa.Column('last_warning', sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
