"""Silences in force: what `mute` stored, read where matches and source-health alerts are held back."""

from __future__ import annotations

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from wirewatch.crawler.store.schema import Mute, utcnow


def active_mutes(session: Session) -> list[Mute]:
    return list(session.scalars(select(Mute).where(Mute.until > utcnow()).order_by(Mute.id)))


def mute_for(session: Session, story_id: int | None = None, source: str | None = None,
             watch: str | None = None) -> Mute | None:
    """The first silence in force over this story, source or watch (whichever are given)."""
    covers = [(Mute.kind == kind) & (Mute.value == str(value))
              for kind, value in (("story", story_id), ("source", source), ("watch", watch)) if value is not None]
    return session.scalars(select(Mute).where(Mute.until > utcnow(), or_(false(), *covers))
                           .order_by(Mute.id)).first()
