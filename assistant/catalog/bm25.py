"""BM25 over token lists, built one document at a time and kept as a compact sparse matrix.

The scores are bm25s' own (its default "lucene" variant: k1 1.5, b 0.75, float32), computed the
same way value for value, so rankings do not move; what differs is the footprint. bm25s wants
every document's token list at once (hundreds of MB of Python lists for 100,000 products); this
keeps only each document's distinct token ids and counts while the catalog streams in.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter

import numpy as np

K1, B = 1.5, 0.75


class Bm25:
    """Scores every document for a query's tokens; a column of the matrix per known token."""

    def __init__(
        self, vocabulary: dict[str, int], data: np.ndarray, rows: np.ndarray, starts: np.ndarray
    ) -> None:
        self.vocabulary = vocabulary
        self.size = 0
        self._data = data  # float32 score of (token, document), grouped by token
        self._rows = rows  # int32 document of each score
        self._starts = starts  # where each token's scores begin in `_data`

    def has(self, token: str) -> bool:
        return token in self.vocabulary

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """One float32 score per document: the sum of its scores for the known query tokens, added
        in the query's order (as bm25s adds them, so the floats agree to the last bit)."""
        total = np.zeros(self.size, dtype=np.float32)
        for token in query_tokens:
            column = self.vocabulary.get(token) if token else None
            if column is None:
                continue
            start, end = self._starts[column], self._starts[column + 1]
            # A document appears once per token, so a plain fancy-index add is exact.
            total[self._rows[start:end]] += self._data[start:end]
        return total


class Bm25Builder:
    """Collects documents one by one; `build()` turns them into a `Bm25`."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self._lengths = array("q")  # tokens per document, repeats included
        self._tokens = array("i")  # distinct token ids of each document, in first-seen order
        self._counts = array("f")  # how often each of those occurs in its document
        self._ends = array("q")  # where each document's entries end in `_tokens`

    def add(self, document: list[str]) -> None:
        # bm25s indexes an empty document as the empty token.
        counted = Counter(document or [""])
        for token, count in counted.items():
            column = self.vocabulary.setdefault(token, len(self.vocabulary))
            self._tokens.append(column)
            self._counts.append(count)
        self._lengths.append(len(document) or 1)
        self._ends.append(len(self._tokens))

    def build(self) -> Bm25:
        documents = len(self._lengths)
        if not documents:
            empty = Bm25({}, np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64))
            return empty
        tokens = np.frombuffer(self._tokens, dtype=np.int32)
        counts = np.frombuffer(self._counts, dtype=np.float32)
        lengths = np.frombuffer(self._lengths, dtype=np.int64)
        per_document = np.diff(np.frombuffer(self._ends, dtype=np.int64), prepend=0).astype(
            np.int64
        )
        rows = np.repeat(np.arange(documents, dtype=np.int32), per_document)
        average = lengths.mean()
        frequency = np.bincount(tokens, minlength=len(self.vocabulary))
        # math.log as bm25s computes it, one token at a time (numpy's log may differ by an ulp).
        idf = np.array(
            [math.log(1 + (documents - df + 0.5) / (df + 0.5)) if df else 0.0 for df in frequency],
            dtype=np.float32,
        )
        length = np.repeat(lengths, per_document)
        # bm25s: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf) in float64, times float32 idf.
        saturation = counts / (K1 * ((1 - B) + B * length / average) + counts)
        data = (idf[tokens] * saturation).astype(np.float32)
        order = np.argsort(tokens, kind="stable")
        starts = np.zeros(len(self.vocabulary) + 1, dtype=np.int64)
        np.cumsum(frequency, out=starts[1:])
        index = Bm25(self.vocabulary, data[order], rows[order], starts)
        index.size = documents
        return index
