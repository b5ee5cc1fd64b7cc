"""Outgrowing one machine: crawl workers on other machines (their heartbeats), robots.txt and
per-host gaps shared through the database, and the schedule's claim as one indexed query.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_source_state_next_due'), 'source_state', ['next_due'], unique=False)
    op.create_table('workers',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('host', sa.String(length=255), nullable=False),
                    sa.Column('pid', sa.Integer(), nullable=False),
                    sa.Column('started_at', sa.DateTime(), nullable=False),
                    sa.Column('last_heartbeat', sa.DateTime(), nullable=False),
                    sa.Column('stopped_at', sa.DateTime(), nullable=True),
                    sa.Column('jobs_done', sa.Integer(), nullable=False),
                    sa.Column('sites', sa.JSON(), nullable=False),
                    sa.Column('queue_worker', sa.Integer(), nullable=True),
                    sa.Column('silent_alerted', sa.Boolean(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index(op.f('ix_workers_last_heartbeat'), 'workers', ['last_heartbeat'], unique=False)
    op.create_table('robots_cache',
                    sa.Column('origin', sa.String(length=300), nullable=False),
                    sa.Column('status', sa.Integer(), nullable=True),
                    sa.Column('body', sa.Text(), nullable=False),
                    sa.Column('fetched_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('origin'))
    op.create_table('host_gaps',
                    sa.Column('host', sa.String(length=255), nullable=False),
                    sa.Column('next_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('host'))


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
