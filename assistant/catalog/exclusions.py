"""What a shopper said to leave out ("nothing wool", "any colour but charcoal", "no glass").

An excluded word removes, never selects: a product whose own description of itself (title,
tags, material, category, text) names it is left out, unless only some of its variants carry
it in their options, in which case just those variants are (a beanie "but not charcoal" is
still shown in its other colours). Colour and material words stand for their families
("blue" covers navy and cobalt, "wool" covers merino and lambswool).
"""

from __future__ import annotations

from assistant.catalog.products import Product, Variant
from assistant.catalog.text import COLOURS, MATERIALS, fold, stem, words


def _tokens(text: str) -> set[str]:
    return {stem(w) for w in words(fold(text))}


def _hit(tokens: set[str], phrase: list[str]) -> bool:
    """Every word of the phrase is a word of the text, or the start or end of one
    ("wax" in "waxed", "wool" in "lambswool")."""
    return all(
        any(
            t == p or (len(p) >= 3 and t.startswith(p)) or (len(p) >= 4 and t.endswith(p))
            for t in tokens
        )
        for p in phrase
    )


class Exclusion:
    def __init__(self, excluded: tuple[str, ...]) -> None:
        phrases: list[list[str]] = []
        for word in excluded:
            family = {word, *COLOURS.get(word, ()), *MATERIALS.get(word, ())}
            phrases.extend([stem(w) for w in words(p)] for p in family)
        self.phrases = [p for p in phrases if p]

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def variant_ok(self, variant: Variant) -> bool:
        options = _tokens(" ".join(value for _, value in variant.options))
        return not any(_hit(options, phrase) for phrase in self.phrases)

    def product_out(self, product: Product) -> bool:
        identity = _tokens(
            " ".join(
                [
                    product.title,
                    " ".join(product.tags),
                    product.material or "",
                    product.category,
                    product.description,
                ]
            )
        )
        for phrase in self.phrases:
            in_options = [
                _hit(_tokens(" ".join(value for _, value in v.options)), phrase)
                for v in product.variants
            ]
            if any(in_options) and not all(in_options):
                continue  # some variants are free of it: those stay
            if all(in_options) or _hit(identity, phrase):
                return True
        return False

    def allowed_variants(self, product: Product) -> list[Variant]:
        return [v for v in product.variants if self.variant_ok(v)]
