"""The schedule in the database (next due time, lag, backlog done), silences, and room for a
silence's reason in a match's held-back note.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_mutes_until'), 'mutes', ['until'], unique=False)
    with op.batch_alter_table('source_state') as table:
        table.add_column(sa.Column('next_due', sa.DateTime(), nullable=True))
        table.add_column(sa.Column('last_lag', sa.Float(), nullable=True))
        table.add_column(sa.Column('schedule', sa.String(length=200), nullable=True))
        table.add_column(sa.Column('backlog_done', sa.Boolean(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":      # SQLite does not enforce a VARCHAR's length
        op.alter_column('matches', 'held_back', type_=sa.String(length=80), existing_type=sa.String(length=40),
                        existing_nullable=True)


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
