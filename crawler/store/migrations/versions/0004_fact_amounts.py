"""Facts keep amounts as the text gave them: a whole figure only where there is one, the words as
written, a vague amount's bounds, and the kind of a casualties figure.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('facts') as table:
        table.add_column(sa.Column('quantity_text', sa.String(length=200), nullable=True))
        table.add_column(sa.Column('quantity_low', sa.BigInteger(), nullable=True))
        table.add_column(sa.Column('quantity_high', sa.BigInteger(), nullable=True))
        table.add_column(sa.Column('casualty', sa.String(length=20), nullable=True))
        table.alter_column('quantity', type_=sa.BigInteger(), existing_type=sa.Float(), existing_nullable=True,
                           postgresql_using='round(quantity)::bigint')
    # a casualties figure of the last release is "in combat" and counts killed or wounded alike
    op.execute("UPDATE facts SET casualty = 'total' WHERE item = 'casualties' AND casualty IS NULL")


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
