"""Loading a merchant from a directory of CSV files (the UCP conformance data's layout): its
products and stock, shipping rates, free-shipping promotions, discount codes and the address
book of its known buyers. Loading again replaces what the directory describes."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from checkout.domain.discounts import DiscountCode, DiscountKind
from checkout.domain.errors import InvalidRequest
from checkout.flows.payment_accounts import open_payment_account
from checkout.flows.sync_catalog import catalog_id, product_rows
from checkout.payments.provider import ConnectedAccounts
from checkout.store.address_book import AddressBook
from checkout.store.catalog import CatalogWriter
from checkout.store.db import Database
from checkout.store.discounts import DiscountCodes
from checkout.store.merchants import Merchants
from checkout.store.rows import BuyerAddressRow, MerchantRow
from merchant_adapters import PlatformProduct, PlatformVariant

# The format carries no delivery times; these are what the loaded rates promise.
DELIVERY_DAYS = {"standard": (3, 5), "express": (1, 2)}


@dataclass(frozen=True, slots=True)
class LoadedCounts:
    products: int
    discount_codes: int
    shipping_rates: int
    addresses: int


def _rows(directory: Path, name: str, required: bool = True) -> list[dict[str, str]]:
    path = directory / name
    if not path.exists():
        if required:
            raise InvalidRequest(f"{path} is missing.", code="invalid_merchant_data")
        return []
    with path.open(newline="", encoding="utf-8") as file:
        return [
            {k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(file)
        ]


def _int(row: dict[str, str], field: str, where: str) -> int:
    try:
        return int(row[field])
    except (KeyError, ValueError) as exc:
        raise InvalidRequest(
            f"{where}: '{field}' must be a whole number of minor units.",
            code="invalid_merchant_data",
        ) from exc


def _products(directory: Path, currency: str, now: datetime) -> tuple[PlatformProduct, ...]:
    stock = {
        row["product_id"]: _int(row, "quantity", f"inventory.csv {row.get('product_id')}")
        for row in _rows(directory, "inventory.csv", required=False)
    }
    products = []
    for row in _rows(directory, "products.csv"):
        item_id = row["id"]
        price = _int(row, "price", f"products.csv {item_id}")
        image = row.get("image_url")
        products.append(
            PlatformProduct(
                platform_product_id=item_id,
                title=row["title"],
                description=row.get("description", ""),
                status="active",
                updated_at=now,
                variants=(
                    PlatformVariant(
                        platform_variant_id=item_id,
                        title=row["title"],
                        price=price,
                        currency=currency,
                        available=stock.get(item_id, 0),
                    ),
                ),
                images=(image,) if image else (),
            )
        )
    return tuple(products)


def _discount_codes(directory: Path) -> list[DiscountCode]:
    codes = []
    for row in _rows(directory, "discounts.csv", required=False):
        where = f"discounts.csv {row.get('code')}"
        try:
            kind = DiscountKind(row["type"])
        except ValueError as exc:
            raise InvalidRequest(
                f"{where}: type must be percentage or fixed_amount.", code="invalid_merchant_data"
            ) from exc
        value = _int(row, "value", where)
        # Percentages are whole percent in the file, basis points here.
        codes.append(
            DiscountCode(
                row["code"],
                kind,
                value * 100 if kind is DiscountKind.PERCENTAGE else value,
                row.get("description") or row["code"],
            )
        )
    return codes


def _shipping(directory: Path, merchant_id: str) -> dict[str, Any]:
    shipping: dict[str, Any] = {}
    for row in _rows(directory, "shipping_rates.csv", required=False):
        level = row.get("service_level") or "standard"
        min_days, max_days = DELIVERY_DAYS.get(level, (3, 7))
        country = row.get("country_code", "default")
        shipping[row["id"]] = {
            "id": row["id"],
            "title": row["title"],
            "amount": _int(row, "price", f"shipping_rates.csv {row['id']}"),
            "carrier": "",
            "min_days": min_days,
            "max_days": max_days,
            "country": None if country in ("", "default") else country.upper(),
            "service_level": level,
        }
    free_items: list[str] = []
    for row in _rows(directory, "promotions.csv", required=False):
        if row.get("type") != "free_shipping":
            continue
        if row.get("min_subtotal"):
            threshold = _int(row, "min_subtotal", f"promotions.csv {row.get('id')}")
            current = shipping.get("free_shipping_threshold")
            shipping["free_shipping_threshold"] = min(threshold, current or threshold)
        if row.get("eligible_item_ids"):
            free_items += [
                catalog_id("var", merchant_id, f"{item}/{item}")
                for item in json.loads(row["eligible_item_ids"])
            ]
    shipping["free_shipping_variants"] = free_items
    return shipping


def _addresses(directory: Path, merchant_id: str, now: datetime) -> list[BuyerAddressRow]:
    emails = {row["id"]: row["email"].lower() for row in _rows(directory, "customers.csv", False)}
    rows = []
    for row in _rows(directory, "addresses.csv", required=False):
        email = emails.get(row.get("customer_id", ""))
        if email is None:
            continue
        address = {
            "street_address": row.get("street_address"),
            "address_locality": row.get("city"),
            "address_region": row.get("state"),
            "postal_code": row.get("postal_code"),
            "address_country": row.get("country"),
        }
        rows.append(
            BuyerAddressRow(
                id=row["id"],
                merchant_id=merchant_id,
                email=email,
                address={k: v for k, v in address.items() if v},
                created_at=now,
            )
        )
    return rows


async def load_merchant_directory(
    database: Database,
    accounts: ConnectedAccounts,
    directory: Path,
    *,
    merchant_id: str,
    name: str,
    currency: str,
    country: str,
    commission_bps: int,
    collects_tax: bool,
    clock: Callable[[], datetime],
) -> LoadedCounts:
    """Create the merchant (a feed merchant: its orders live here) or refresh its data."""
    now = clock()
    currency = currency.lower()
    products = _products(directory, currency, now)
    codes = _discount_codes(directory)
    shipping = _shipping(directory, merchant_id)
    # Addresses in this format may name only a country; shipping is priced by country alone.
    shipping |= {"collects_tax": collects_tax, "address_detail": "country"}
    addresses = _addresses(directory, merchant_id, now)
    with database.write() as db:
        merchant = Merchants(db).get(merchant_id, for_update=True)
        if merchant is None:
            merchant = MerchantRow(
                id=merchant_id,
                name=name,
                platform="feed",
                shop_ref=merchant_id,
                currency=currency,
                country=country.upper(),
                shipping=shipping,
                commission_bps=commission_bps,
                status="active",
                payment_status="pending",
                payment_status_reason="the payment account is not open yet",
                created_at=now,
            )
            Merchants(db).add(merchant, now)
        elif merchant.platform != "feed":
            raise InvalidRequest(
                f"Merchant '{merchant_id}' sells on {merchant.platform}; its catalog comes from "
                "there.",
                code="merchant_not_on_feed",
            )
        else:
            merchant.shipping = shipping
            db.add(merchant)
        product_dicts, variant_dicts = product_rows(merchant, products, now)
        writer = CatalogWriter(db)
        writer.upsert(product_dicts, variant_dicts)
        writer.deactivate_except(merchant.id, {p["id"] for p in product_dicts}, now)
        merchant.last_synced_at = now
        db.add(merchant)
        DiscountCodes(db).replace(merchant_id, codes)
        AddressBook(db).replace(merchant_id, addresses)
    await open_payment_account(database, accounts, merchant_id)
    rates = sum(1 for value in shipping.values() if isinstance(value, dict))
    return LoadedCounts(len(products), len(codes), rates, len(addresses))
