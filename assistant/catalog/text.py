"""Text normalisation shared by the index and the query parser: tokens, a light stemmer, synonyms.

Use `tokens()` for anything compared with indexed text, so documents and queries agree.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[a-z0-9]+")


def word_set(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated block (easier to read than a list)."""
    return frozenset(text.split())


# Small English stopword list (bm25s' list drops words such as "top" or "full" we need).
STOPWORDS = word_set(
    """
    a an and are as at be by for from has have in into is it its of on or that the their
    this to was were will with
    """
)

# Words that say how to shop rather than what to buy; dropped from a product query.
FILLER = word_set(
    """
    i im i'm me my we our us you your he she her him his they them their it its this that
    these those who whom which what whats where when why how please pls thanks thank hi
    hello hey need needs want wants wanted looking look find finding search searching show
    see get getting buy buying purchase order shop shopping recommend recommendation
    recommendations suggest suggestion something anything some any thing things stuff item
    items product products one ones like likes love loves loved lover really very nice good
    great lovely best perfect cute sister brother mom mum dad mother father wife husband
    friend friends boyfriend girlfriend partner son daughter kid kids boss coworker
    colleague grandma grandpa aunt uncle cousin niece nephew someone somebody person people
    family teacher also now then too just only maybe perhaps could would should can will
    shall do does did is are be got have has had go going new can't cannot dont don't under
    over below above less more than between around about within budget cheap cheaper
    cheapest affordable inexpensive expensive price priced cost costs dollar dollars bucks
    usd max maximum min minimum least most up available stock instock
    """
)

# Query word -> extra words it stands for (applied to queries only, weighted lower).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "pottery": ("ceramic", "stoneware", "porcelain", "earthenware", "handmade"),
    "ceramics": ("ceramic", "stoneware", "porcelain"),
    "ceramic": ("stoneware", "porcelain", "earthenware"),
    "clay": ("ceramic", "stoneware", "earthenware"),
    "cup": ("mug",),
    "cups": ("mug",),
    "coffee": ("mug", "espresso"),
    "tea": ("mug", "cup"),
    "sneaker": ("running", "shoe"),
    "sneakers": ("running", "shoe"),
    "trainers": ("running", "shoe", "trainer"),
    "shoes": ("shoe", "sneakers"),
    "running": ("run", "runner"),
    "jogging": ("running", "shoe"),
    "tshirt": ("tee", "shirt"),
    "shirt": ("tee", "t-shirt"),
    "tee": ("t-shirt", "shirt"),
    "sweatshirt": ("hoodie", "fleece"),
    "sweater": ("hoodie", "sweatshirt", "merino", "wool"),
    "jumper": ("hoodie", "sweatshirt"),
    "blanket": ("throw",),
    "throw": ("blanket",),
    "pillow": ("cushion",),
    "cushion": ("pillow",),
    "hat": ("beanie",),
    "beanie": ("hat",),
    "jewellery": ("jewelry",),
    "jewelry": ("jewellery",),
    "wedding": ("ring", "band"),
    "engagement": ("ring",),
    "band": ("ring",),
    "poster": ("print", "wall", "art"),
    "artwork": ("art", "print"),
    "painting": ("art", "print"),
    "decor": ("vase", "print", "candle", "planter"),
    "flowers": ("vase",),
    "flower": ("vase",),
    "plant": ("planter", "pot"),
    "plants": ("planter", "pot"),
    "pot": ("planter",),
    "succulents": ("succulent", "planter"),
    "bedding": ("sheet", "duvet", "pillowcase"),
    "sheets": ("sheet", "bedding"),
    "duvet": ("bedding", "cover"),
    "towels": ("towel",),
    "bag": ("backpack",),
    "rucksack": ("backpack",),
    "laptop": ("backpack",),
    "raincoat": ("rain", "jacket", "waterproof", "shell"),
    "coat": ("jacket", "outerwear"),
    "rain": ("waterproof", "shell"),
    "waterproof": ("rain", "water-resistant"),
    "scented": ("candle",),
    "candles": ("candle",),
    "hiking": ("trail", "outdoor"),
    "trail": ("hiking", "outdoor"),
    "winter": ("wool", "warm"),
    "warm": ("wool", "fleece", "winter"),
    "cozy": ("throw", "wool", "fleece"),
    "cosy": ("throw", "wool", "fleece"),
    "gift": ("gift",),
    "present": ("gift",),
    "kitchen": ("cook", "cooks", "kitchen"),
    "cook": ("kitchen",),
    "cooking": ("kitchen", "cook"),
    "noodles": ("ramen", "noodle", "bowl"),
    "soup": ("bowl",),
    "salad": ("serving", "bowl"),
    "dinnerware": ("plate", "bowl", "tableware"),
    "tableware": ("plate", "bowl", "dinnerware"),
    "plates": ("plate", "dinnerware"),
    "earring": ("earrings", "studs", "hoops"),
    "necklace": ("pendant", "chain"),
    "pendant": ("necklace",),
    "download": ("digital", "printable"),
    "printable": ("digital", "download"),
    "digital": ("download", "printable"),
    "socks": ("sock",),
    "framed": ("frame",),
    "wool": ("merino", "lambswool"),
    # Needs in everyday words, each mapped to the kinds of product that meet it.
    "bling": ("jewelry", "ring", "earrings", "necklace"),
    "noggin": ("beanie", "hat"),
    "head": ("beanie", "hat"),
    "moved": ("housewarming", "vase", "candle", "planter", "throw", "cushion"),
    "moving": ("housewarming", "vase", "candle", "planter", "throw", "cushion"),
    "housewarming": ("vase", "candle", "planter", "throw", "cushion"),
    "apartment": ("vase", "candle", "planter", "cushion"),
    "desk": ("planter", "succulent", "print", "vase"),
    "office": ("planter", "succulent", "print"),
    "walls": ("print", "art", "wall"),
    "wall": ("print", "art"),
    "cold": ("warm", "wool", "throw", "blanket", "beanie", "fleece"),
    "chilly": ("warm", "wool", "throw", "blanket", "beanie"),
    "freezing": ("warm", "wool", "throw", "blanket", "beanie"),
    "night": ("bedding", "duvet", "sheet", "throw"),
    "sleep": ("bedding", "sheet", "duvet", "pillowcase"),
    "bed": ("bedding", "sheet", "duvet", "pillowcase"),
    "summer": ("linen", "percale", "breathable", "lightweight"),
    "houseplant": ("planter", "pot", "succulent"),
    "houseplants": ("planter", "pot", "succulent"),
    "hosting": ("serving", "bowl", "plate", "dinnerware"),
    "party": ("serving", "bowl", "plate"),
    "dinner": ("plate", "serving", "bowl", "dinnerware"),
    "guests": ("serving", "bowl", "plate"),
    "commute": ("backpack", "rain", "waterproof"),
    "bike": ("backpack", "rain", "waterproof"),
    "cycling": ("backpack", "rain", "waterproof"),
    "unwind": ("candle", "lavender", "relaxing"),
    "relax": ("candle", "lavender", "relaxing"),
    "relaxing": ("candle", "lavender"),
    "rains": ("rain", "waterproof", "jacket"),
    "rainy": ("rain", "waterproof", "jacket"),
    "raining": ("rain", "waterproof", "jacket"),
    "bathroom": ("bath", "towel"),
    "couch": ("cushion", "throw", "living", "room"),
    "sofa": ("cushion", "throw", "living", "room"),
    "studs": ("stud", "earrings"),
    "kicks": ("running", "shoe", "sneakers"),
    "sneaks": ("running", "shoe", "sneakers"),
}

# Colour family -> colour names that belong to it (as they appear in variant options/titles).
COLOURS: dict[str, tuple[str, ...]] = {
    "blue": ("blue", "cobalt", "sky blue", "indigo", "navy", "cobalt blue"),
    "navy": ("navy",),
    "indigo": ("indigo",),
    "green": ("green", "sage", "forest", "olive", "celadon"),
    "sage": ("sage",),
    "olive": ("olive",),
    "white": ("white", "ivory", "milk white", "matte white", "speckled white", "cream"),
    "ivory": ("ivory", "cream"),
    "cream": ("cream", "ivory", "oatmeal"),
    "black": ("black", "matte black"),
    "charcoal": ("charcoal",),
    "grey": ("grey", "gray", "charcoal", "heather"),
    "gray": ("grey", "gray", "charcoal", "heather"),
    "pink": ("pink", "blush"),
    "red": ("red", "terracotta", "coral"),
    "orange": ("orange", "terracotta", "mustard", "burnt orange"),
    "terracotta": ("terracotta",),
    "yellow": ("yellow", "mustard", "honey"),
    "mustard": ("mustard",),
    "beige": ("oatmeal", "beige", "sand", "natural"),
    "oatmeal": ("oatmeal",),
    "neutral": ("oatmeal", "white", "ivory", "natural", "neutral", "sand"),
    "brown": ("brown", "terracotta", "oatmeal"),
    "gold": ("gold",),
    "silver": ("silver",),
}

# Material family -> words that show a product is made of it.
MATERIALS: dict[str, tuple[str, ...]] = {
    "ceramic": ("ceramic", "stoneware", "porcelain", "earthenware", "terracotta clay"),
    "pottery": ("ceramic", "stoneware", "porcelain", "earthenware"),
    "stoneware": ("stoneware",),
    "porcelain": ("porcelain",),
    "earthenware": ("earthenware",),
    "linen": ("linen", "flax"),
    "cotton": ("cotton",),
    "organic cotton": ("organic cotton",),
    "wool": ("wool", "merino", "lambswool"),
    "merino": ("merino",),
    "lambswool": ("lambswool",),
    "silver": ("silver", "sterling"),
    "sterling silver": ("sterling silver",),
    "gold": ("gold",),
    "canvas": ("canvas",),
    "waxed canvas": ("waxed canvas", "waxed cotton canvas"),
    "denim": ("denim",),
    "soy": ("soy",),
    "nylon": ("nylon",),
    "fleece": ("fleece",),
    "leather": ("leather",),
}


def fold(text: str) -> str:
    """Lower-case and strip accents ("Bouclé" -> "boucle"), and drop apostrophes ("men's")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower().replace("'", "").replace("\u2019", "")


def stem(word: str) -> str:
    """A light plural stemmer: mugs -> mug, glasses -> glass, hoodies -> hoodie, boxes -> box.

    Final consonant+y becomes "ie" so "accessory" and "accessories" meet at "accessorie".
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ies"):
        return word[:-1]
    if word.endswith(("xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ie"
    return word


def words(text: str) -> list[str]:
    """Folded words, before stopword removal and stemming."""
    return WORD.findall(fold(text))


def tokens(text: str) -> list[str]:
    """The indexed form of a text: folded words, no stopwords, stemmed, at least two characters."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def expand(query_words: list[str]) -> list[str]:
    """The synonyms a query's words stand for (not including the words themselves)."""
    extra: list[str] = []
    for word in query_words:
        for synonym in SYNONYMS.get(word, ()):
            extra.extend(tokens(synonym))
    return extra
