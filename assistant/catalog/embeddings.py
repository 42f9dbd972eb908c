"""Dense embeddings (on by default; EMBEDDINGS=false turns them off) from a packaged model.

WordLlama's wheel carries its weights (`l2_supercat_256`), so nothing is downloaded at run time.
Without the package installed the assistant logs that and ranks with BM25 and quality alone.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("assistant.catalog")


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        ...


class WordLlamaEncoder:
    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self.model.embed(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.where(norms == 0, 1.0, norms)
        return normalised


@functools.cache
def load_encoder() -> Encoder | None:
    """The packaged WordLlama model, or None (with a log line) when it is not installed.

    Loaded once per process on first use (about a second) and shared: it is read-only.
    """
    try:
        import wordllama  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        log.warning("embeddings.unavailable reason=wordllama_not_installed")
        return None
    # The wheel ships weights/ and tokenizers/ beside its code; pointing the cache there and
    # turning downloads off keeps loading local (its own lookup misses the tokenizers folder).
    packaged = Path(wordllama.__file__).resolve().parent
    model = wordllama.WordLlama.load(cache_dir=packaged, disable_download=True)
    # The packaged weights are float16 and WordLlama widens them to float32 (32 MB); kept as
    # float16 they are widened exactly when a text is pooled in float32, so vectors are equal.
    model.embedding = model.embedding.astype(np.float16)
    # The tokenizer has no pre-tokenizer, so its BPE cache is keyed by whole texts: product
    # texts never repeat, and its 10,000 entries would only hold on to 60-120 MB of them.
    resize_cache = getattr(getattr(model.tokenizer, "model", None), "_resize_cache", None)
    if resize_cache is not None:
        resize_cache(0)
    return WordLlamaEncoder(model)
