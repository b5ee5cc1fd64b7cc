"""Counters that only go up: what retention deletes is added to `counter_totals` first, and
/metrics counts rows plus those totals.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('counter_totals',
                    sa.Column('metric', sa.String(length=60), nullable=False),
                    sa.Column('labels', sa.String(length=400), nullable=False),
                    sa.Column('value', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('metric', 'labels'))


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
