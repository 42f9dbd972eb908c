"""The words and patterns of shopping language that `assistant.dialogue.language` reads with.

Tables only: numbers, ordinals, sizes, colours, and the acts a message can perform, each a
regular expression over the folded (lower-case, accent-free, apostrophe-free) message.
"""

from __future__ import annotations

import re

from assistant.catalog.text import COLOURS, MATERIALS

NUMBER_WORDS = {
    "one": 1,
    "a single": 1,
    "single": 1,
    "two": 2,
    "a couple": 2,
    # A pair of socks, shoes or earrings is one item; "two pairs" is two.
    "a pair": 1,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "last": -1,
}
AMOUNT = r"\$?\s?(\d{1,6}(?:\.\d{1,2})?)(?:\s?(?:dollars?|bucks|usd))?"
COUNT = r"(\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
ORDINAL = "|".join(sorted(ORDINALS, key=len, reverse=True))
# "blue" is a colour, "gold" and "silver" are metals (materials) first.
COLOUR_WORDS = sorted((c for c in COLOURS if c not in ("gold", "silver")), key=len, reverse=True)
COMPOUND_COLOURS = ["sky blue", "cobalt blue", "forest green", "sage green", "heather grey"]
COMPOUND_COLOURS += ["matte black", "matte white", "blush pink", "navy blue", "light blue"]
MATERIAL_WORDS = sorted(MATERIALS, key=len, reverse=True)
SIZE_WORD = r"(?:xxs|xs|s|m|l|xl|xxl|small|medium|large|extra large|queen|king|full|twin|standard)"
SIZE_NAMES = {"small": "S", "medium": "M", "large": "L", "extra large": "XL"}
# Words about the conversation itself, never part of a product query.
CHAT_WORDS = frozenset(
    [
        "cart",
        "basket",
        "bank",
        "app",
        "banking",
        "phone",
        "wait",
        "okay",
        "ok",
        "yes",
        "no",
        "place",
        "instead",
        "also",
        "again",
        "not",
        "nothing",
        "hmm",
        "hm",
        "um",
        "uh",
        "lol",
        "haha",
        "actually",
        "card",
        "email",
        "exp",
        "cvc",
        "thanks",
        "please",
    ]
)


MASKED = re.compile(
    r"•+\s*\d{4}|\b(?:exp\w*\.?:?\s*)?(?:0?[1-9]|1[0-2])\s*/\s*\d{2,4}\b"
    r"|\b(?:cvc2?|cvv2?|csc|security code)\s*:?\s*•+",
    re.IGNORECASE,
)


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


ACTS: list[tuple[str, re.Pattern[str]]] = [
    (
        "order_status",
        rx(
            r"\bwhere(?:'?s|\s+is|\s+are)\s+my\s+(?:orders?|package|parcel|stuff|things|purchases?)\b"
            r"|\border\s+status\b|\bstatus\s+of\s+my\s+order\b|\btrack(?:ing)?\s+(?:my\s+)?"
            r"(?:orders?|package|parcel)\b|\b(?:has|have|did)\s+(?:it|they|my\s+orders?)\s+"
            r"(?:been\s+)?ship(?:ped)?\b|\bwhen\s+will\s+(?:it|they|my\s+orders?)\s+"
            r"(?:arrive|ship|come|get\s+here)\b|\bwhere\s+(?:is|are)\s+(?:it|they|the\s+order)\b"
            r"|\b(?:did|has|have)\s+(?:my\s+)?(?:order|package|parcel|stuff|things)\s+(?:ship|shipped|"
            r"arrived?|left|been\s+sent)|\b(?:any|an)\s+update\s+on\s+my\s+order\b|\border\s+update"
            r"|\bwhat(?:'?s|\s+is)\s+happening\s+with\s+my\s+(?:order|package|stuff)\b"
            r"|\bis\s+(?:it|my\s+order|my\s+package)\s+on\s+(?:its|the)\s+way\b|\bwhen\s+(?:does|do|will)"
            r"\s+(?:it|they|my\s+(?:order|stuff|package))\s+(?:arrive|get\s+here|come|ship)\b"
        ),
    ),
    (
        "returns",
        rx(
            r"\breturns?\s+polic(?:y|ies)\b|\b(?:can|could)\s+i\s+(?:return|send\s+(?:it|them)\s+back)"
            r"|\bhow\s+(?:do\s+i\s+|to\s+|can\s+i\s+)?return\b|\brefund\s+polic|\bexchange\s+polic"
            r"|\breturns?\b(?=[^?]*\?)|\bwhat\s+if\s+(?:it|they)\s+(?:doesn'?t|don'?t)\s+fit\b"
        ),
    ),
    (
        "delivery",
        rx(
            r"\bhow\s+much\s+(?:is|does|for|are)?\s*(?:the\s+)?(?:delivery|shipping|postage)\b"
            r"|\b(?:delivery|shipping)\s+(?:options?|costs?|fees?|prices?|times?|polic(?:y|ies)|rates?)\b"
            r"|\bhow\s+long\s+(?:does|will|would)\s+(?:it\s+take\s+to\s+)?(?:delivery|shipping|it\s+take"
            r"|it\s+take\s+to\s+(?:arrive|ship|come))\b|\bdo\s+you\s+(?:ship|deliver)\b"
            r"|\bwhat\s+(?:does|do)\s+(?:shipping|delivery)\s+cost\b|\bis\s+(?:shipping|delivery)\s+free\b"
            r"|\b(?:shipping|delivery)\s*\?"
        ),
    ),
    (
        "compare",
        rx(
            r"\bwhich\s+(?:one\s+|of\s+(?:them|the\s+two|these|those)\s+)?(?:is|lasts|would|will|"
            r"should|has|feels|runs)\b|\bcompare\b|\bdifference\s+between\b|\bwhat'?s\s+the\s+difference\b"
        ),
    ),
    (
        "totals",
        rx(
            r"\b(?:with|incl(?:uding|udes?|\.)?)\s+(?:the\s+)?tax(?:es)?\b|\btax(?:es)?\b[^?]*\?"
            r"|\bwhat(?:'?s|\s+is)\s+(?:the|my)\s+total\b|\bhow\s+much\s+(?:is\s+it\s+)?(?:in\s+total"
            r"|altogether|all\s+in)\b|\btotal\s*\?"
        ),
    ),
    (
        "show_cart",
        rx(
            r"\bwhat'?s\s+in\s+my\s+(?:cart|basket|bag)\b|\bshow\s+(?:me\s+)?my\s+"
            r"(?:cart|basket)\b|\bview\s+(?:my\s+)?cart\b|\bwhat\s+(?:have|did)\s+i\s+"
            r"(?:got|added|add|put\s+in)\b|\b(?:my\s+)?(?:cart|basket)\s*\?|\bwhat(?:'?s|\s+is)\s+in\s+"
            r"(?:the|my)\s+(?:cart|basket|bag)\b"
        ),
    ),
    ("cancel", rx(r"\b(?:cancel|never\s?mind|forget\s+it|abort)\b")),
    (
        "approve",
        rx(
            r"\b(?:i\s+)?(?:approved?|authenticated|verified|authori[sz]ed)\b(?:\s+it)?"
            r"|\bi\s+did\s+it\b|\bdone\s+in\s+(?:my\s+)?(?:bank|app)\b"
        ),
    ),
    (
        "deny",
        rx(r"^\s*(?:no|nope|nah|not\s+yet|wait|hold\s+on|don'?t)\b|\b(?:don'?t|do\s+not)\s+"),
    ),
    (
        "confirm",
        rx(
            r"^\s*(?:yes|yep|yeah|yup|sure|ok(?:ay)?|confirm(?:ed)?|correct|absolutely|please\s+do)"
            r"\b|\bplace\s+(?:the\s+|my\s+)?order\b|\bgo\s+ahead\b|\bconfirm(?:ed)?\b"
            r"|\bcomplete\s+(?:the\s+)?(?:purchase|order|payment)\b|\bpay\s+now\b"
            r"|\bdo\s+it\b|\bsounds\s+good\b|\blet'?s\s+do\s+it\b"
        ),
    ),
    ("checkout", rx(r"\bcheck\s?out\b|\bproceed\s+to\s+(?:checkout|payment)\b")),
    (
        "remove",
        rx(r"\b(?:remove|delete|drop|take\s+(?:out|off)|get\s+rid\s+of)\b"),
    ),
    ("add", rx(r"\b(?:add|put|include|throw\s+in)\b|\bto\s+(?:my\s+|the\s+)?(?:cart|basket)\b")),
    (
        "buy",
        rx(
            r"\b(?:buy|purchase|order|i'?ll\s+take|take\s+(?:it|them|that|this|both|the)"
            r"|get\s+(?:me\s+)?(?:it|them|that|this|both|the)|want\s+(?:it|them|that|this|both)"
            r"|pay\s+for)\b"
        ),
    ),
    (
        "details",
        rx(
            r"\btell\s+me\s+(?:more\s+)?about\b|\bmore\s+(?:about|details|info)\b|\bdetails\b"
            r"|\bdescribe\b|\bwhat\s+(?:sizes|colou?rs|options)\b|\bwhich\s+(?:sizes|colou?rs)\b"
        ),
    ),
    (
        "show_more",
        rx(
            r"\b(?:show|see|give)\s+(?:me\s+)?(?:some\s+)?more\b|\bmore\s+(?:results|options)\b"
            r"|\bnext\s+(?:page|ones?)\b|\banything\s+else\b|\bother\s+options\b"
        ),
    ),
    ("greet", rx(r"^\s*(?:hi|hello|hey|howdy|good\s+(?:morning|afternoon|evening))\b")),
    ("help", rx(r"\bhelp\b|\bwhat\s+can\s+you\s+do\b|\bhow\s+does\s+this\s+work\b")),
    ("thanks", rx(r"\b(?:thanks|thank\s+you|cheers)\b")),
]
