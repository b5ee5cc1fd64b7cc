"""The desk, round 2: triage per match (read, starred), a note per story, analysts' verdicts, and
full-text search over articles (SQLite FTS5 with triggers, PostgreSQL a tsvector GIN index),
filled from the articles already stored.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matches') as table:
        table.add_column(sa.Column('read', sa.Boolean(), server_default=sa.false(), nullable=False))
        table.add_column(sa.Column('starred', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('stories') as table:
        table.add_column(sa.Column('note', sa.Text(), nullable=True))
        table.add_column(sa.Column('note_by', sa.String(length=100), nullable=True))
        table.add_column(sa.Column('note_at', sa.DateTime(), nullable=True))
    op.create_table('verdicts',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('article_id', sa.Integer(), nullable=False),
                    sa.Column('match_id', sa.Integer(), nullable=True),
                    sa.Column('watch', sa.String(length=200), nullable=False),
                    sa.Column('label', sa.String(length=20), nullable=False),
                    sa.Column('fact', sa.JSON(), nullable=True),
                    sa.Column('note', sa.Text(), nullable=True),
                    sa.Column('by', sa.String(length=100), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ),
                    sa.ForeignKeyConstraint(['match_id'], ['matches.id'], ),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index(op.f('ix_verdicts_article_id'), 'verdicts', ['article_id'], unique=False)
    op.create_index(op.f('ix_verdicts_created_at'), 'verdicts', ['created_at'], unique=False)
    from wirewatch.crawler.store.search import install
    install(op.get_bind(), rebuild=True)


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
