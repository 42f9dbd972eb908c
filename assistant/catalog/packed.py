"""The catalog's products kept packed: one bytes blob of compressed records, unpacked on access.

A `Product` with its variants costs about a kilobyte as Python objects; packed, about a hundred
bytes. `PackedProducts` is a read-only sequence of `Product`, so callers index and iterate it as
they would a list; each access unpacks a fresh object (the index caches the few it examines).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np
import orjson

from assistant.catalog.products import Product, Variant

# The compression dictionary is cut from the first records packed: a catalog's records share
# field values (shops, categories, option names, policy links), so even a 200-byte record packs
# well against it. zlib uses at most 32 KiB of it.
DICTIONARY_RECORDS = 64
DICTIONARY_BYTES = 32 * 1024
LEVEL = 6


def _record(product: Product) -> bytes:
    return orjson.dumps(
        [
            product.id,
            product.merchant_id,
            product.merchant_name,
            product.title,
            product.description,
            [
                [v.id, v.title, v.price, v.currency, v.available_quantity, v.options, v.list_price]
                for v in product.variants
            ],
            product.category,
            product.tags,
            product.material,
            product.rating,
            product.review_count,
            product.url,
            product.images,
            product.policies,
        ]
    )


def _product(fields: list[Any]) -> Product:
    (id_, merchant_id, merchant_name, title, description, variants, category, tags) = fields[:8]
    (material, rating, review_count, url, images, policies) = fields[8:]
    return Product(
        id=id_,
        merchant_id=merchant_id,
        merchant_name=merchant_name,
        title=title,
        description=description,
        variants=tuple(
            Variant(
                id=v[0],
                title=v[1],
                price=v[2],
                currency=v[3],
                available_quantity=v[4],
                options=tuple((name, value) for name, value in v[5]),
                list_price=v[6],
            )
            for v in variants
        ),
        category=category,
        tags=tuple(tags),
        material=material,
        rating=rating,
        review_count=review_count,
        url=url,
        images=tuple(images),
        policies=tuple((kind, link) for kind, link in policies),
    )


class ProductPacker:
    """Packs products one by one; `finish()` returns them as `PackedProducts`."""

    def __init__(self) -> None:
        self._records: list[bytes] = []
        self._waiting: list[bytes] = []  # packed once the dictionary is cut from them
        self._dictionary: bytes | None = None

    def add(self, products: Iterable[Product]) -> None:
        for product in products:
            record = _record(product)
            if self._dictionary is None:
                self._waiting.append(record)
                if len(self._waiting) >= DICTIONARY_RECORDS:
                    self._cut_dictionary()
            else:
                self._records.append(self._pack(record))

    def _cut_dictionary(self) -> None:
        # zlib favours the dictionary's end, so the common material goes last.
        self._dictionary = b"".join(reversed(self._waiting))[-DICTIONARY_BYTES:]
        waiting, self._waiting = self._waiting, []
        self._records.extend(self._pack(record) for record in waiting)

    def _pack(self, record: bytes) -> bytes:
        packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -15, zdict=self._dictionary or b"")
        return packer.compress(record) + packer.flush()

    def finish(self) -> PackedProducts:
        if self._dictionary is None:
            self._cut_dictionary()
        ends = np.cumsum([len(r) for r in self._records], dtype=np.int64)
        packed = PackedProducts(b"".join(self._records), ends, self._dictionary or b"")
        self._records = []
        return packed


class PackedProducts(Sequence[Product]):
    def __init__(self, blob: bytes, ends: np.ndarray, dictionary: bytes) -> None:
        self._blob = blob
        self._ends = ends
        self._dictionary = dictionary

    @property
    def nbytes(self) -> int:
        return len(self._blob) + self._ends.nbytes + len(self._dictionary)

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, position: int) -> Product: ...

    @overload
    def __getitem__(self, position: slice) -> list[Product]: ...

    def __getitem__(self, position: int | slice) -> Product | list[Product]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError("product position out of range")
        start = int(self._ends[position - 1]) if position else 0
        unpacker = zlib.decompressobj(-15, zdict=self._dictionary)
        record = unpacker.decompress(self._blob[start : int(self._ends[position])])
        return _product(orjson.loads(record))

    def __iter__(self) -> Iterator[Product]:
        for position in range(len(self)):
            yield self[position]
