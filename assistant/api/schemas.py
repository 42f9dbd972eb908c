"""Request bodies of the chat API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AddressForm(BaseModel):
    """The structured shipping address form (ACP Address fields)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    line_one: str = Field(min_length=1, max_length=256)
    line_two: str | None = Field(default=None, max_length=256)
    city: str = Field(min_length=1, max_length=128)
    state: str = Field(min_length=1, max_length=64)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(default="US", min_length=2, max_length=2)


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=4000)
    client_message_id: str | None = Field(
        default=None,
        max_length=255,
        description="Retrying with the same id (or Idempotency-Key header) replays the turn.",
    )
    shipping_address: AddressForm | None = None
    email: str | None = Field(default=None, max_length=256)
    shipping: Literal["standard", "express"] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> MessageRequest:
        if not (self.text.strip() or self.shipping_address or self.email or self.shipping):
            raise ValueError("send some text, a shipping_address, an email or a shipping choice")
        return self
