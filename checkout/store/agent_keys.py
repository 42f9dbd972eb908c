"""Agents' API keys, stored as SHA-256 digests: registered (or re-keyed) and looked up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from checkout.store.rows import AgentKeyRow


class AgentKeyRecords:
    def __init__(self, db: Session, *, is_sqlite: bool) -> None:
        self.db = db
        self.is_sqlite = is_sqlite

    def register(self, agent_id: str, name: str, digest: str, now: datetime) -> None:
        """The agent's key is `digest` from now on; a revoked agent is restored."""
        dialect = sqlite if self.is_sqlite else postgresql
        statement = dialect.insert(AgentKeyRow).values(
            id=agent_id, name=name, key_hash=digest, created_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["id"], set_={"key_hash": digest, "revoked_at": None}
        )
        self.db.execute(statement)

    def agent_with(self, digest: str) -> str | None:
        """The agent whose unrevoked key has this digest."""
        return self.db.exec(
            select(AgentKeyRow.id).where(
                col(AgentKeyRow.key_hash) == digest, col(AgentKeyRow.revoked_at).is_(None)
            )
        ).first()
