"""Stories by content: a story keeps the facts, names and text signature of its reports, its
publication span and its first alert (the index that finds candidates is kept in memory, re-read by
`updated_at`); a match records what it added. Stories of earlier releases keep their articles; their facts are read back into `known`.

Revision ID: 0005
Revises: 0004
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _known_from_signature(signature: str | None) -> list[dict]:
    """The last release kept a story's facts as keys, 'North Korea>Russia:troops:11000'."""
    known = []
    for key in json.loads(signature or "[]"):
        pair, _, amount = key.rpartition(":")
        parties, _, item = pair.rpartition(":")
        supplier, _, recipient = parties.partition(">")
        if supplier and recipient and item:
            known.append({"supplier": supplier, "recipient": recipient, "item": item,
                          "quantity": int(float(amount)) if amount else None, "status": "reported", "casualty": None})
    return known


def upgrade() -> None:
    bind = op.get_bind()
    old = {row[0]: _known_from_signature(row[1] if isinstance(row[1], str) else json.dumps(row[1]))
           for row in bind.execute(sa.text("SELECT id, signature FROM stories"))}
    with op.batch_alter_table('stories') as table:
        table.add_column(sa.Column('known', sa.JSON(), nullable=True))
        table.add_column(sa.Column('names', sa.JSON(), nullable=True))
        table.add_column(sa.Column('minhash', sa.JSON(), nullable=True))
        table.add_column(sa.Column('first_published', sa.DateTime(), nullable=True))
        table.add_column(sa.Column('last_published', sa.DateTime(), nullable=True))
        table.add_column(sa.Column('first_alert_id', sa.String(length=64), nullable=True))
        table.add_column(sa.Column('alerts', sa.Integer(), nullable=True))
        table.drop_column('signature')
        table.drop_column('terms')
        table.create_index(op.f('ix_stories_last_published'), ['last_published'], unique=False)
        table.create_index(op.f('ix_stories_updated_at'), ['updated_at'], unique=False)
    with op.batch_alter_table('matches') as table:
        table.add_column(sa.Column('news', sa.JSON(), nullable=True))
    # old stories: their facts from their signature, their span from their articles, their alerts counted
    as_json = "CAST(:known AS JSON)" if bind.dialect.name == "postgresql" else ":known"
    for story_id, known in old.items():
        bind.execute(sa.text(f"UPDATE stories SET known = {as_json}, names = '{{}}' WHERE id = :id"),
                     {"known": json.dumps(known), "id": story_id})
    op.execute("UPDATE stories SET first_published = (SELECT min(coalesce(published_at, fetched_at)) FROM articles "
               "WHERE articles.story_id = stories.id), last_published = (SELECT max(coalesce(published_at, "
               "fetched_at)) FROM articles WHERE articles.story_id = stories.id)")
    op.execute("UPDATE stories SET alerts = (SELECT count(*) FROM matches WHERE matches.story_id = stories.id "
               "AND matches.alerted)")
    with op.batch_alter_table('stories') as table:
        table.alter_column('known', existing_type=sa.JSON(), nullable=False)
        table.alter_column('names', existing_type=sa.JSON(), nullable=False)
        table.alter_column('alerts', existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    raise NotImplementedError("wirewatch does not downgrade: restore the backup taken before upgrading")
