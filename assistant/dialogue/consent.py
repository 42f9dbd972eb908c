"""Whether a message says yes to paying, or reports a bank approval: the only gate money moves on.

A message confirms only when every word in it belongs to a closed vocabulary of assent ("yes,
place the order", "ok go ahead", "confirmed, thanks") and at least one word says yes. Anything
else (a negation, a hedge, a question, a joke, a condition such as "yes but in green", a
product word) leaves the answer `UNCLEAR`, so the assistant asks again instead of
charging. Reading by exclusion keeps the rule explainable: a word outside the list is a reason
not to pay, never a reason to pay.
"""

from __future__ import annotations

import re
from enum import Enum

from assistant.catalog.text import fold
from assistant.dialogue.vocabulary import MASKED


class Answer(Enum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


# Words that say yes by themselves (after folding: lower case, no apostrophes).
ASSENT = frozenset(
    [
        "yes",
        "yep",
        "yeah",
        "yea",
        "ya",
        "yup",
        "yess",
        "yesss",
        "sure",
        "ok",
        "okay",
        "k",
        "kk",
        "confirm",
        "confirmed",
        "confirming",
        "correct",
        "absolutely",
        "definitely",
        "certainly",
        "affirmative",
        "agreed",
        "agree",
        "alright",
        "proceed",
        "approve",
        "approved",
    ]
)
# Phrases that say yes, matched on the folded text before the word check.
ASSENT_PHRASES = re.compile(
    r"\b(?:go\s+ahead|do\s+it|place\s+(?:the\s+|my\s+)?orders?|pay\s+now|buy\s+it|lets\s+do\s+it"
    r"|sounds\s+good|looks\s+good|all\s+good|complete\s+(?:the\s+)?(?:purchase|order|payment)"
    r"|charge\s+(?:it|me|my\s+card))\b"
)
# Words that may stand next to a yes without changing it.
NEUTRAL = frozenset(
    [
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "thx",
        "ty",
        "you",
        "the",
        "my",
        "it",
        "them",
        "that",
        "this",
        "those",
        "now",
        "and",
        "go",
        "ahead",
        "do",
        "place",
        "order",
        "orders",
        "purchase",
        "payment",
        "pay",
        "charge",
        "card",
        "complete",
        "with",
        "for",
        "me",
        "i",
        "im",
        "to",
        "a",
        "all",
        "both",
        "is",
        "lets",
        "let",
        "us",
        "sounds",
        "looks",
        "that",
        "s",
        "ill",
        "we",
        "away",
        "then",
        "so",
        "oh",
        "well",
        "totally",
        "really",
        "very",
        "of",
        "course",
        "deal",
        "buy",
        "get",
        "good",
        "great",
        "fine",
        "perfect",
    ]
)
# Words that withdraw, postpone or doubt: any one of them and the message is not a yes.
NEGATIVE = frozenset(
    [
        "no",
        "nope",
        "nah",
        "not",
        "dont",
        "didnt",
        "doesnt",
        "isnt",
        "wasnt",
        "wont",
        "cant",
        "cannot",
        "never",
        "neither",
        "nor",
        "cancel",
        "stop",
        "wait",
        "hold",
        "hang",
        "later",
        "refuse",
        "refused",
        "decline",
        "declined",
        "reject",
        "rejected",
        "deny",
        "denied",
        "abort",
        "without",
        "nothing",
        "none",
    ]
)
HEDGE = frozenset(
    [
        "maybe",
        "perhaps",
        "probably",
        "possibly",
        "think",
        "guess",
        "suppose",
        "unsure",
        "sure?",
        "if",
        "unless",
        "but",
        "except",
        "though",
        "although",
        "however",
        "hmm",
        "hm",
        "um",
        "uh",
        "erm",
        "lol",
        "lmao",
        "haha",
        "hehe",
        "jk",
        "kidding",
        "joke",
        "joking",
        "kid",
        "instead",
        "first",
        "before",
        "after",
        "until",
        "once",
        "only",
        "actually",
        "wonder",
        "whether",
        "rather",
    ]
)
# Said during 3-D Secure: the shopper approved in their bank app.
APPROVAL = frozenset(
    [
        "approved",
        "approve",
        "authenticated",
        "authorised",
        "authorized",
        "verified",
        "confirmed",
        "done",
        "did",
        "finished",
        "completed",
        "accepted",
        "ok",
        "okay",
        "yes",
        "yep",
        "yeah",
        "yup",
        "sure",
    ]
)
APPROVAL_NEUTRAL = NEUTRAL | frozenset(
    [
        "in",
        "on",
        "via",
        "through",
        "bank",
        "banking",
        "app",
        "phone",
        "have",
        "just",
        "now",
        "its",
        "it",
        "all",
        "set",
        "ive",
        "one",
        "too",
        "also",
        "second",
        "other",
        "that",
        "as",
        "well",
    ]
)
# Plain refusals of the payment the bank asked about ("I didn't approve that", "that wasn't me").
REFUSAL = re.compile(
    r"\b(?:(?:didnt|did\s+not|havent|have\s+not|wont|will\s+not|dont|do\s+not|never|not)\s+"
    r"(?:\w+\s+)?(?:approve|approved|authori[sz]e|authori[sz]ed|verify|verified|confirm|confirmed|"
    r"accept|accepted|want|ok)\b|\bcancel\b|\b(?:declined?|rejected?|denied|deny|refused?)\b"
    r"|\b(?:wasnt|was\s+not|not)\s+me\b|\bfraud\b|\bstop\b)"
)
MASKED_CARD = "\u2022"  # the bullet `mask_card` writes over a typed card number or CVC
WORD = re.compile(r"[a-z0-9]+")


def _without_card(text: str) -> str:
    """The message with a typed (already masked) card taken out: the card is how to pay, and
    says nothing about whether to."""
    return MASKED.sub(" ", text)


def _words(text: str) -> list[str]:
    return WORD.findall(fold(text))


def _blocked(text: str) -> bool:
    """A question, a typed card, a negation or a hedge: never a clear yes."""
    if "?" in text or MASKED_CARD in text:
        return True
    said = set(_words(text))
    return bool(said & NEGATIVE or said & HEDGE)


def confirmation(text: str) -> Answer:
    """Does this message, on its own, say yes to paying the totals just shown?"""
    text = _without_card(text)
    if not text.strip():
        return Answer.UNCLEAR
    folded = fold(text)
    said = _words(text)
    if REFUSAL.search(folded) or set(said) & {"no", "nope", "nah", "cancel", "dont"}:
        return Answer.NO
    if _blocked(text):
        return Answer.UNCLEAR
    rest = ASSENT_PHRASES.sub(" ", folded)
    leftover = [w for w in WORD.findall(rest) if w not in ASSENT and w not in NEUTRAL]
    agrees = bool(ASSENT_PHRASES.search(folded)) or any(w in ASSENT for w in said)
    return Answer.YES if agrees and not leftover else Answer.UNCLEAR


def bank_approval(text: str) -> Answer:
    """During 3-D Secure: did the shopper report approving in their bank app, or refuse?"""
    text = _without_card(text)
    if not text.strip():
        return Answer.UNCLEAR
    folded = fold(text)
    if REFUSAL.search(folded):
        return Answer.NO
    if _blocked(text):
        return Answer.UNCLEAR
    said = _words(text)
    leftover = [w for w in said if w not in APPROVAL and w not in APPROVAL_NEUTRAL]
    agrees = any(w in APPROVAL for w in said) or bool(ASSENT_PHRASES.search(folded))
    return Answer.YES if agrees and not leftover else Answer.UNCLEAR
