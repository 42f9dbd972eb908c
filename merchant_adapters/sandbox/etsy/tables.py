"""The Etsy sandbox's own tables (sandbox_etsy_*) and its id sequences; not the product's schema.

They are made with metadata.create_all and have no migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from merchant_adapters.sandbox.transactions import write_transaction

metadata = MetaData()
shops = Table(
    "sandbox_etsy_shops",
    metadata,
    Column("shop_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_name", String(100), nullable=False, unique=True),
    Column("currency_code", String(3), nullable=False),
    Column("webhook_url", Text),
    Column("created_timestamp", BigInteger, nullable=False),
)
listings = Table(
    "sandbox_etsy_listings",
    metadata,
    Column("listing_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_id", BigInteger, nullable=False, index=True),
    Column("seed_ref", String(100), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("url", Text),
    Column("listing_type", String(16), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("materials", JSON, nullable=False),
    Column("images", JSON, nullable=False),
    Column("review_average", Float),  # the seed's rating: Etsy keeps reviews apart from listings
    Column("review_count", Integer, nullable=False),
    Column("taxonomy_path", JSON, nullable=False),
    Column("on_property", JSON, nullable=False),  # the four *_on_property arrays
    Column("created_timestamp", BigInteger, nullable=False),
    Column("last_modified_timestamp", BigInteger, nullable=False),
    Column("state_timestamp", BigInteger, nullable=False),
    UniqueConstraint("shop_id", "seed_ref"),
)
# A product and its one offering share a row: Etsy allows one offering per product.
products = Table(
    "sandbox_etsy_products",
    metadata,
    Column("product_id", BigInteger, primary_key=True, autoincrement=False),
    Column("offering_id", BigInteger, nullable=False, unique=True),
    Column("listing_id", BigInteger, nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("sku", String(100), nullable=False),
    Column("property_values", JSON, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("is_enabled", Boolean, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("divisor", Integer, nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("readiness_state_id", BigInteger),
)
orders = Table(
    "sandbox_etsy_orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_id", BigInteger, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # paid, shipped, canceled
    Column("lines", JSON, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("tracking", JSON),
    Column("created_timestamp", BigInteger, nullable=False),
    UniqueConstraint("shop_id", "reference"),
)
sequences = Table(
    "sandbox_etsy_sequences",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)
# Deterministic ids in Etsy-like ranges; disjoint ranges keep a product id from passing for a
# listing id in a test.
SEQUENCE_STARTS = {
    "shop": 40000001,
    "listing": 4000000001,
    "product": 4100000001,
    "offering": 4200000001,
    "value": 4300000001,
    "image": 4400000001,
    "order": 4500000001,
}


def create_tables(engine: Engine) -> None:
    """Create the tables and start every sequence, once, however many workers start together."""
    metadata.create_all(engine)
    for name, start in SEQUENCE_STARTS.items():
        try:
            with write_transaction(engine) as conn:
                query = select(sequences.c.name).where(sequences.c.name == name)
                if conn.execute(query).first() is None:
                    conn.execute(insert(sequences).values(name=name, next_value=start))
        except IntegrityError:  # another worker started at the same moment
            pass


def next_ids(conn: Connection, name: str, count: int) -> int:
    """Reserve `count` ids and return the first; the UPDATE locks the row before the read."""
    row = sequences.c.name == name
    bump = update(sequences).where(row).values(next_value=sequences.c.next_value + count)
    conn.execute(bump)
    return int(conn.execute(select(sequences.c.next_value).where(row)).scalar_one()) - count
