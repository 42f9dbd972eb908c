"""Rows written on the driver (datastore's prepared statements) read back as the ORM wrote them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, delete, inspect, select, update
from sqlalchemy.orm.exc import StaleDataError

from checkout.store.db import Database, create_database_engine
from checkout.store.rows import (
    CheckoutLineRow,
    CheckoutSessionRow,
    IdempotencyRecordRow,
    MerchantRow,
    PaymentTokenRow,
    ProductRow,
    VariantRow,
)
from datastore import (
    PreparedStatement,
    columns_of,
    get_row,
    insert_rows,
    load_rows,
    row_columns,
    save_rows,
)
from tests.support import CLAY, both_backends, pick

NOW = datetime(2026, 12, 4, 18, 30, 15, 123456, tzinfo=UTC)


def _session(session_id: str, **changes: object) -> CheckoutSessionRow:
    values: dict[str, object] = {
        "id": session_id,
        "agent_id": "agent_1",
        "protocol": "acp",
        "merchant_id": CLAY,
        "status": "not_ready_for_payment",
        "currency": "usd",
        "locale": None,
        "timezone": "Europe/Paris",
        "buyer": None,
        "fulfillment_details": {"name": "Ada", "address": {"line_one": "1 Rue de l'École"}},
        "selections": [],
        "interventions": ["3ds"],
        "notices": [],
        "discount_codes": ["WELCOME10"],
        "order_notes": "ring twice — ✓",
        "metadata_": {"nested": {"n": 1, "ok": True, "none": None}},
        "api_version": "2026-04-17",
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
    }
    values.update(changes)
    return CheckoutSessionRow(**values)


def _columns(row: CheckoutSessionRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in CheckoutSessionRow.model_fields}


@both_backends
def test_rows_inserted_on_the_driver_read_back_equal_to_rows_the_orm_flushed(
    database_url: str, client: object
) -> None:
    database = Database(create_database_engine(database_url))
    try:
        on_driver, by_orm = _session("cs_on_driver"), _session("cs_by_orm")
        line = CheckoutLineRow(
            id="li_on_driver", session_id="cs_on_driver", position=0,
            variant_id=pick(), quantity=2, unit_amount=1250,
        )  # fmt: skip
        with database.write() as db:
            insert_rows(db, [on_driver])
            insert_rows(db, [line])
            db.add(by_orm)
        with database.read() as db:
            read_driver = db.get(CheckoutSessionRow, "cs_on_driver")
            read_orm = db.get(CheckoutSessionRow, "cs_by_orm")
            read_line = db.get(CheckoutLineRow, "li_on_driver")
        assert read_driver is not None and read_orm is not None and read_line is not None
        expected = _columns(read_orm) | {"id": "cs_on_driver"}
        assert _columns(read_driver) == expected
        assert read_driver.expires_at == NOW + timedelta(minutes=30)
        assert read_driver.expires_at.tzinfo is not None
        assert (read_line.quantity, read_line.unit_amount) == (2, 1250)
    finally:
        database.dispose()


@both_backends
def test_a_prepared_statement_returns_rows_converted_and_rolls_back_with_its_transaction(
    database_url: str, client: object
) -> None:
    table = IdempotencyRecordRow.__table__  # type: ignore[attr-defined]
    insert = PreparedStatement(
        table.insert()
        .values(
            identity=bindparam("identity"), path="/p", key=bindparam("key"),
            fingerprint="f" * 64, state="in_flight",
            locked_until=bindparam("until"), created_at=bindparam("until"),
        )
        .returning(table.c.id, table.c.locked_until, table.c.state)
    )  # fmt: skip
    read = PreparedStatement(
        select(table.c.key, table.c.response_body).where(table.c.identity == bindparam("identity"))
    )
    database = Database(create_database_engine(database_url))
    try:
        with database.write() as db:
            (record_id, until, state), = insert.execute(
                db, {"identity": "agent_kept", "key": "k1", "until": NOW}
            )  # fmt: skip
        assert isinstance(record_id, int) and (until, state) == (NOW, "in_flight")
        with pytest.raises(RuntimeError), database.write() as db:
            insert.execute(db, {"identity": "agent_gone", "key": "k2", "until": NOW})
            raise RuntimeError("the unit of work fails after the statement")
        with database.read() as db:
            assert read.execute(db, {"identity": "agent_kept"}) == [("k1", None)]
            assert read.execute(db, {"identity": "agent_gone"}) == []
    finally:
        database.dispose()


@both_backends
def test_rows_loaded_on_the_driver_equal_the_orms_for_every_catalog_table(
    database_url: str, client: object
) -> None:
    variant_id = pick()
    database = Database(create_database_engine(database_url))
    try:
        with database.read() as db:
            by_orm = db.get(VariantRow, variant_id)
            assert by_orm is not None
            wanted = {
                VariantRow: variant_id,
                ProductRow: by_orm.product_id,
                MerchantRow: by_orm.merchant_id,
            }
            for entity, key in wanted.items():
                (key_column,) = [column for column in columns_of(entity) if column.primary_key]
                statement = PreparedStatement(
                    select(*columns_of(entity)).where(key_column == bindparam("key"))
                )
                with database.read() as fresh:  # nothing held yet: every row is built anew
                    ((loaded,),) = load_rows(fresh, statement, {"key": key}, (entity,))
                expected = db.get(entity, key)
                assert loaded is not expected
                assert {name: getattr(loaded, name) for name, _ in row_columns(entity)} == {
                    name: getattr(expected, name) for name, _ in row_columns(entity)
                }
    finally:
        database.dispose()


@both_backends
def test_rows_read_by_key_belong_to_the_session_and_a_locking_read_sees_the_latest_values(
    database_url: str, client: object
) -> None:
    variant_id = pick()
    database = Database(create_database_engine(database_url))
    try:
        with database.write() as db:
            row = get_row(db, VariantRow, variant_id)
            assert row is not None and get_row(db, VariantRow, variant_id) is row
            before = row.inventory
            row.inventory = before - 1  # flushed as an UPDATE: the row is the session's
        with database.write() as db:
            held = get_row(db, VariantRow, variant_id)
            assert held is not None and held.inventory == before - 1
            # Changed behind the session's back (a Core UPDATE does not touch the session's
            # objects): an ordinary read keeps what the session holds, a locking read reads afresh.
            table = VariantRow.__table__  # type: ignore[attr-defined]
            db.execute(update(table).where(table.c.id == variant_id).values(price=123_45))
            assert get_row(db, VariantRow, variant_id) is held
            assert held.price != 123_45
            assert get_row(db, VariantRow, variant_id, for_update=True) is held
            assert held.price == 123_45
            assert get_row(db, VariantRow, "no-such-variant") is None
    finally:
        database.dispose()


@both_backends
def test_saved_rows_write_only_what_changed_and_leave_nothing_to_flush(
    database_url: str, client: object
) -> None:
    table = CheckoutSessionRow.__table__  # type: ignore[attr-defined]

    def behind_the_sessions_back(db: object, **values: object) -> None:
        db.execute(update(table).where(table.c.id == "cs_saved").values(**values))  # type: ignore[attr-defined]

    database = Database(create_database_engine(database_url))
    try:
        with database.write() as db:
            new = _session("cs_saved")
            db.add(new)  # pending in the unit of work: written by save_rows, not by the flush
            save_rows(db, [new])
            assert not db.new and not inspect(new).modified
        with database.write() as db:
            row = get_row(db, CheckoutSessionRow, "cs_saved")
            assert row is not None
            behind_the_sessions_back(db, order_notes="changed elsewhere", locale="fr-FR")
            row.status = "ready_for_payment"
            row.notices = [{"code": "x", "content": "é"}]
            row.locale = None  # set back to what it was read as: no change, not written
            row.updated_at = NOW + timedelta(seconds=1)
            save_rows(db, [row])
            assert not inspect(row).modified and not db.dirty
            behind_the_sessions_back(db, status="canceled")  # a later flush must not undo this
        with database.read() as db:
            saved = db.get(CheckoutSessionRow, "cs_saved")
            assert saved is not None
            assert (saved.status, saved.notices) == ("canceled", [{"code": "x", "content": "é"}])
            assert (saved.order_notes, saved.locale) == ("changed elsewhere", "fr-FR")
            assert saved.updated_at == NOW + timedelta(seconds=1)

        with pytest.raises(StaleDataError), database.write() as db:
            row = get_row(db, CheckoutSessionRow, "cs_saved")
            assert row is not None
            db.execute(delete(table).where(table.c.id == "cs_saved"))
            row.status = "expired"
            save_rows(db, [row])
        with pytest.raises(ValueError, match="primary key"), database.write() as db:
            row = get_row(db, CheckoutSessionRow, "cs_saved")
            assert row is not None
            row.id = "cs_renamed"
            save_rows(db, [row])
        with database.read() as db:
            assert db.get(CheckoutSessionRow, "cs_saved") is not None
    finally:
        database.dispose()


@both_backends
def test_a_row_built_from_its_fields_gets_their_defaults_and_is_written_as_sqlmodel_would(
    database_url: str, client: object
) -> None:
    merchant = MerchantRow(
        id="mch_built", name="Built Co", platform="feed", shop_ref="built", currency="usd",
        country="US", commission_bps=500, created_at=NOW,
    )  # fmt: skip
    other = MerchantRow(
        id="mch_built_2", name="Built Two", platform="feed", shop_ref="built-2", currency="usd",
        country="US", commission_bps=500,
    )  # fmt: skip
    assert (merchant.status, merchant.commission_fixed, merchant.credentials) == ("active", 0, None)
    assert merchant.links == {} and merchant.links is not other.links  # a factory's, per row
    assert merchant.model_fields_set == {
        "id", "name", "platform", "shop_ref", "currency", "country", "commission_bps",
        "created_at",
    }  # fmt: skip
    with pytest.raises(TypeError, match="no field colour"):
        PaymentTokenRow(id="vt_x", colour="red")  # type: ignore[call-arg]
    database = Database(create_database_engine(database_url))
    try:
        with database.write() as db:
            db.add(merchant)  # written by the unit of work's flush, from the row's own dict
            merchant.links = {"home": "https://built.example"}  # a change before the flush counts
        with database.read() as db:
            stored = db.get(MerchantRow, "mch_built")
            assert stored is not None
            assert (stored.status, stored.links) == ("active", {"home": "https://built.example"})
            assert (stored.commission_bps, stored.shipping) == (500, {})
    finally:
        database.dispose()


@both_backends
def test_units_of_work_commit_or_roll_back_whole_one_after_another(
    database_url: str, client: object
) -> None:
    """On SQLite every unit of work writes on the same kept connection: one that fails must leave
    nothing behind for the next, which must still commit."""
    database = Database(create_database_engine(database_url))
    try:
        for attempt in range(3):
            with pytest.raises(RuntimeError), database.write() as db:
                insert_rows(db, [_session(f"cs_failed_{attempt}")])
                raise RuntimeError("the unit of work fails")
            with database.write() as db:
                insert_rows(db, [_session(f"cs_kept_{attempt}")])
        with database.read() as db:
            kept = db.scalars(select(CheckoutSessionRow.id).where(
                CheckoutSessionRow.id.in_(  # type: ignore[attr-defined]
                    [f"cs_{state}_{n}" for state in ("failed", "kept") for n in range(3)]
                )
            )).all()  # fmt: skip
        assert sorted(kept) == ["cs_kept_0", "cs_kept_1", "cs_kept_2"]
    finally:
        database.dispose()
