"""Typo correction against the catalog's own vocabulary ("hoddie" -> "hoodie", "neckalce" ->
"necklace"), with rapidfuzz's optimal-string-alignment distance: one edit or swap for short
words, two for longer ones, the more common catalog word winning a tie."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

from assistant.catalog.text import STOPWORDS, words

MIN_LENGTH = 4


def speller_words(text: str) -> list[str]:
    """The words of a catalog text the speller may correct towards."""
    return [w for w in words(text) if len(w) >= 3 and not w.isdigit()]


class Speller:
    def __init__(self, texts: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(speller_words(text))
        self._adopt(counts)

    @classmethod
    def from_counts(cls, counts: Counter[str]) -> Speller:
        """From word counts gathered as the catalog streamed in (in catalog order)."""
        speller = cls(())
        speller._adopt(counts)
        return speller

    def _adopt(self, counts: Counter[str]) -> None:
        self.known = set(counts)
        # Most frequent first, so a tie between two candidates goes to the commoner word.
        self._vocabulary = [w for w, _ in counts.most_common()]
        self._cache: dict[str, str | None] = {}

    def correct(self, word: str) -> str | None:
        """The catalog word a misspelt query word stands for, or None (known, or no close word)."""
        if word in self.known or len(word) < MIN_LENGTH or word in STOPWORDS or word.isdigit():
            return None
        if word in self._cache:
            return self._cache[word]
        allowed = 1 if len(word) <= 5 else 2
        found = process.extractOne(
            word, self._vocabulary, scorer=OSA.distance, score_cutoff=allowed
        )
        corrected = found[0] if found else None
        # Typos rarely hit the first letter; keeping it stops "boring" from becoming "ring".
        if corrected is not None and corrected[0] != word[0]:
            corrected = None
        self._cache[word] = corrected
        return corrected
