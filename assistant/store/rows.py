"""SQLModel rows of the assistant, on a registry of their own so checkout's metadata never sees them.

Every change to a conversation is a row: a turn, a message, a new state version, a purchase
update, a received order event. Nothing needed to continue a conversation lives only in memory,
except a typed card, which is deliberately never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from datastore import empty_dict, empty_list

assistant_registry = registry()


class AssistantTable(SQLModel, registry=assistant_registry):
    """Base of the assistant's tables; `AssistantTable.metadata` is what its migrations describe."""


def utc_column(nullable: bool = False) -> Any:
    column = Column(DateTime(timezone=True), nullable=nullable)
    return Field(default=None, sa_column=column) if nullable else Field(sa_column=column)


class ConversationRow(AssistantTable, table=True):
    __tablename__ = "assistant_conversations"
    id: str = Field(primary_key=True, max_length=64)
    mode: str = Field(max_length=16)
    # SHA-256 of the conversation's bearer token; None (rows from before tokens) opens nothing.
    token_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class MessageRow(AssistantTable, table=True):
    """One line of the transcript: the shopper, the assistant, or an order event."""

    __tablename__ = "assistant_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_assistant_messages_seq"),)
    id: str = Field(primary_key=True, max_length=64)
    conversation_id: str = Field(
        foreign_key="assistant_conversations.id", index=True, max_length=64
    )
    seq: int
    role: str = Field(max_length=16)
    text: str
    parts: list[dict[str, Any]] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    turn_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_column()


class TurnRow(AssistantTable, table=True):
    """A shopper message and its answer, keyed by the client's message id so a retry replays it."""

    __tablename__ = "assistant_turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_key", name="uq_assistant_turns_client_key"),
    )
    id: str = Field(primary_key=True, max_length=64)
    conversation_id: str = Field(
        foreign_key="assistant_conversations.id", index=True, max_length=64
    )
    client_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status: str = Field(max_length=16)
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = utc_column()
    completed_at: datetime | None = utc_column(nullable=True)


class StateRow(AssistantTable, table=True):
    """A version of the conversation's state (filters, results shown, cart, address...)."""

    __tablename__ = "assistant_states"
    __table_args__ = (
        UniqueConstraint("conversation_id", "version", name="uq_assistant_states_version"),
    )
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        foreign_key="assistant_conversations.id", index=True, max_length=64
    )
    version: int
    turn_id: str | None = Field(default=None, max_length=64)
    state: dict[str, Any] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = utc_column()


class PurchaseRow(AssistantTable, table=True):
    """One ACP checkout session opened for a conversation, and the order it became."""

    __tablename__ = "assistant_purchases"
    checkout_session_id: str = Field(primary_key=True, max_length=64)
    conversation_id: str = Field(
        foreign_key="assistant_conversations.id", index=True, max_length=64
    )
    merchant_id: str = Field(max_length=64)
    merchant_name: str
    status: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    total: int | None = None
    payment_token: str | None = Field(default=None, max_length=64)
    card_last4: str | None = Field(default=None, max_length=4)
    order_id: str | None = Field(default=None, index=True, unique=True, max_length=64)
    order_number: str | None = Field(default=None, max_length=64)
    order_status: str | None = Field(default=None, max_length=32)
    permalink_url: str | None = None
    order: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class OrderEventRow(AssistantTable, table=True):
    """An order webhook already applied (the inbox): a redelivery finds its key and does nothing."""

    __tablename__ = "assistant_order_events"
    id: str = Field(primary_key=True, max_length=255)
    content_key: str = Field(unique=True, max_length=255)
    order_id: str = Field(index=True, max_length=64)
    event_type: str = Field(max_length=32)
    order_status: str | None = Field(default=None, max_length=32)
    conversation_id: str | None = Field(default=None, max_length=64)
    received_at: datetime = utc_column()
