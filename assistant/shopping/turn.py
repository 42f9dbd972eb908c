"""One turn of a conversation as the operations see it: ids, state, the reply being built."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from assistant.dialogue.cards import Card
from assistant.dialogue.consent import Answer, bank_approval, confirmation
from assistant.shopping.replies import ReplyBuilder
from assistant.shopping.state import ConversationState
from assistant.store.rows import PurchaseRow


@dataclass
class Turn:
    conversation_id: str
    turn_id: str
    text: str
    state: ConversationState
    now: datetime
    reply: ReplyBuilder = field(default_factory=ReplyBuilder)
    card: Card | None = None
    placed_orders: list[str] = field(default_factory=list)
    # The conversation's purchases, read once per turn and kept current by the desk's saves
    # (None until first asked): a turn that pays asks for them several times.
    purchases: list[PurchaseRow] | None = None

    def key(self, step: str, target: str) -> str:
        """Idempotency key for one call to checkout: the same turn retried sends the same key."""
        return f"{self.conversation_id}:{self.turn_id}:{step}:{target}"

    @property
    def confirmed(self) -> bool:
        """The shopper's latest message, read on its own, is a clear yes to paying."""
        return confirmation(self.text) is Answer.YES

    @property
    def bank_approved(self) -> bool:
        """The shopper's latest message clearly reports approving 3-D Secure in their bank app."""
        return bank_approval(self.text) is Answer.YES

    @property
    def totals_confirmable(self) -> bool:
        """Totals were shown in an earlier turn than this one (a confirmation may follow them)."""
        shown = self.state.totals_shown
        return shown is not None and shown.turn < self.state.turn
