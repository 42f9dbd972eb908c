"""The pages in a real browser: Debian's chromium driven by Playwright against a served process.

Each test is what a person does: shop through the chat while the inspector shows the protocol,
pay with test cards (a decline, 3-D Secure approved and refused), run the merchant's dashboard,
onboard a shop as the operator. Screenshots go to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port, wait_until_healthy

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "docs" / "screenshots"
OPERATOR_KEY = "operator_demo_key"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium "
        "(apt-get install -y chromium; .ci/run installs it)",
    ),
]


class Served:
    def __init__(self, base_url: str, database: Path) -> None:
        self.base_url = base_url
        self.database = database

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`agentic-checkout serve` on a fresh SQLite database, as a newcomer starts it."""
    workdir = tmp_path_factory.mktemp("web")
    port = free_port()
    log_path = workdir / "serve.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "STRIPE_", "PAYMENT_", "OPENAI_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{workdir / 'shop.db'}"
    cli = str(Path(sys.executable).with_name("agentic-checkout"))
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [cli, "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, process, log_path)
            yield Served(base_url, workdir / "shop.db")
        finally:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh browser context (its own conversation) that fails the test on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def open_shop(page: Any, served: Served) -> None:
    page.goto(f"{served.base_url}/")
    page.wait_for_selector("body[data-ready=true]")


def wait_for_reply(page: Any) -> str:
    page.wait_for_function("() => !document.getElementById('send').disabled")
    return str(page.locator("#log li.assistant").last.inner_text())


def say(page: Any, text: str) -> str:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    return wait_for_reply(page)


def choose_a_mug_and_address(page: Any, query: str = "a handmade ceramic mug under $40") -> None:
    say(page, query)
    page.locator(".cards .card").first.wait_for()
    page.locator(".cards").last.get_by_role("button", name="Buy this").first.click()
    assert "Checkout says" in wait_for_reply(page)
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Street address").fill("1234 Chat Road")
    page.get_by_label("City").fill("San Francisco")
    page.get_by_label("State").fill("CA")
    page.get_by_label("ZIP code").fill("94131")
    page.get_by_role("button", name="Use this address").click()
    assert "San Francisco" in wait_for_reply(page)


def pay(page: Any, number: str) -> str:
    page.get_by_label("Card number").fill(number)
    page.get_by_role("button", name="Pay with this card").click()
    wait_for_reply(page)
    page.get_by_role("button", name="Yes, place the order").click()
    return wait_for_reply(page)


def conversation_of(page: Any) -> dict[str, str]:
    saved: dict[str, str] = page.evaluate("JSON.parse(sessionStorage.getItem('conversation'))")
    return saved


def inspected(page: Any, kind: str, path_part: str) -> Any:
    item = page.locator(f"#calls li[data-kind='{kind}'][data-path*='{path_part}']")
    item.first.wait_for()
    return item


def test_a_purchase_through_the_chat_shows_each_protocol_step(page: Any, served: Served) -> None:
    open_shop(page, served)
    choose_a_mug_and_address(page)
    assert page.locator("#checkout-state [data-total=total]").count() == 1
    reply = pay(page, "4242 4242 4242 4242")
    assert "placed" in reply
    assert page.locator("#checkout-state .session .status").first.inner_text() == "completed"

    inspected(page, "acp", "/checkout_sessions")
    inspected(page, "delegate_payment", "/agentic_commerce/delegate_payment")
    complete = inspected(page, "acp", "/complete")
    inspected(page, "platform", "sandbox.internal")
    webhook = inspected(page, "webhook", "/order_events")
    order_status = page.locator("#orders .order-status")
    order_status.first.wait_for()
    assert order_status.first.inner_text() in ("confirmed", "processing")

    # The recorded call shows its exchange with the key and card masked.
    complete.first.locator("summary").click()
    shown = complete.first.inner_text()
    assert "Idempotency-Key".lower() in shown.lower() and "agent_demo_key" not in shown
    delegate = page.locator("#calls li[data-kind='delegate_payment']").first
    delegate.locator("summary").click()
    assert "4242424242424242" not in delegate.inner_text()
    assert "••••4242" in delegate.inner_text()
    assert webhook.count() >= 1
    seqs = page.eval_on_selector_all("#calls li", "items => items.map(i => i.dataset.seq)")
    assert len(seqs) == len(set(seqs))  # each call once, in order
    assert [int(seq) for seq in seqs] == sorted(int(seq) for seq in seqs)
    order_ids = [
        row[0]
        for row in served.rows("SELECT id FROM orders WHERE status IN ('confirmed','processing')")
    ]
    assert order_ids
    screenshot(page, "shop.png")


def test_a_declined_card_then_a_good_one(page: Any, served: Served) -> None:
    open_shop(page, served)
    choose_a_mug_and_address(page, "a blue ceramic mug")
    declined = pay(page, "4000 0000 0000 0002")
    assert "declined" in declined and "Nothing was charged" in declined
    reply = pay(page, "4242 4242 4242 4242")
    assert "placed" in reply
    # The inspector shows the refused complete and then the one that went through.
    completes = page.locator("#calls li[data-path*='/complete'] summary")
    completes.filter(has_text=re.compile(r"→ 40[02]")).first.wait_for()
    completes.filter(has_text="→ 200").first.wait_for()


def three_d_secure(page: Any, served: Served, button: str) -> str:
    open_shop(page, served)
    choose_a_mug_and_address(page, "a ceramic mug")
    asked = pay(page, "4000 0027 6000 3184")
    assert "3-D Secure" in asked
    challenge = page.get_by_role("dialog", name="Your bank: confirm this payment (3-D Secure)")
    challenge.wait_for()
    challenge.get_by_role("button", name=button).click()
    return wait_for_reply(page)


def test_3d_secure_approved_places_the_order(page: Any, served: Served) -> None:
    screenshot_taken = False
    open_shop(page, served)
    choose_a_mug_and_address(page, "a ceramic mug")
    assert "3-D Secure" in pay(page, "4000 0027 6000 3184")
    challenge = page.get_by_role("dialog", name="Your bank: confirm this payment (3-D Secure)")
    challenge.wait_for()
    screenshot(page, "shop-3ds-challenge.png")
    screenshot_taken = True
    challenge.get_by_role("button", name="Approve payment").click()
    assert "placed" in wait_for_reply(page)
    assert screenshot_taken
    assert page.locator("#challenge").is_hidden()


def test_3d_secure_refused_charges_nothing(page: Any, served: Served) -> None:
    reply = three_d_secure(page, served, "Decline")
    assert "placed" not in reply
    conversation = conversation_of(page)
    history = httpx.get(
        f"{served.base_url}/assistant/conversations/{conversation['id']}",
        headers={"Authorization": f"Bearer {conversation['token']}"},
    ).json()
    sessions = [c["checkout_session_id"] for c in history["checkouts"]]
    assert sessions and all(c["order_id"] is None for c in history["checkouts"])
    marks = ",".join("?" * len(sessions))
    payments = served.rows(f"SELECT status FROM payments WHERE session_id IN ({marks})", *sessions)
    assert payments and all(
        status not in ("requires_capture", "succeeded") for (status,) in payments
    )
    assert (
        served.rows(f"SELECT id FROM orders WHERE checkout_session_id IN ({marks})", *sessions)
        == []
    )


def issue_merchant_key(page: Any, served: Served, merchant_name: str) -> str:
    page.goto(f"{served.base_url}/operator")
    page.get_by_label("Operator API key").fill(OPERATOR_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=f"New key for {merchant_name}").click()
    key = page.locator("#issued-key")
    key.wait_for()
    return str(key.inner_text())


def test_the_merchant_sees_its_new_order_and_refunds_half(page: Any, served: Served) -> None:
    from playwright.sync_api import expect

    open_shop(page, served)
    choose_a_mug_and_address(page, "a handmade ceramic mug")
    assert "placed" in pay(page, "4242 4242 4242 4242")
    merchant_id, order_id, total = served.rows(
        "SELECT merchant_id, id, total_amount FROM orders ORDER BY created_at DESC LIMIT 1"
    )[0]
    name = served.rows("SELECT name FROM merchants WHERE id = ?", merchant_id)[0][0]
    key = issue_merchant_key(page, served, name)

    page.goto(f"{served.base_url}/merchant")
    page.get_by_label("Merchant id").fill(merchant_id)
    page.get_by_label("Merchant API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    row = page.locator(f"#orders-table tr[data-order='{order_id}']")
    row.wait_for()
    row.get_by_role("button", name="Refund").click()
    result = page.locator("#action-result")
    page.wait_for_function("() => document.getElementById('action-result').textContent !== ''")
    assert result.inner_text().startswith("Refunded $"), result.inner_text()
    refunded = served.rows("SELECT amount_refunded FROM orders WHERE id = ?", order_id)[0][0]
    assert refunded == total // 2
    expect(row.locator(".refunded")).to_have_text(f"${refunded / 100:.2f}")
    expect(page.locator("#statement-table")).to_contain_text("Refunds")
    expect(page.locator("#catalog")).to_contain_text("Last sync: 20")
    screenshot(page, "merchant.png")

    # The merchant ships it; the shopper's page shows the new status once the webhook arrives.
    row.get_by_label(re.compile("Tracking number for order")).fill("1Z999AA10123456784")
    row.get_by_role("button", name="Mark shipped").click()
    page.get_by_text("marked shipped").wait_for()
    assert served.rows("SELECT status FROM orders WHERE id = ?", order_id)[0][0] == "shipped"
    page.goto(f"{served.base_url}/")
    shipped = page.locator(f"#orders li[data-order='{order_id}'] .order-status")
    shipped.wait_for()
    page.wait_for_function(
        "id => document.querySelector(`#orders li[data-order='${id}'] .order-status`)"
        ".textContent === 'shipped'",
        arg=order_id,
    )

    # Another merchant's key opens nothing of this one.
    other = served.rows("SELECT id FROM merchants WHERE id != ?", merchant_id)[0][0]
    answer = httpx.get(
        f"{served.base_url}/merchants/{other}/orders", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 401


def test_the_operator_onboards_a_sandbox_shop(page: Any, served: Served) -> None:
    page.goto(f"{served.base_url}/operator")
    page.get_by_label("Operator API key").fill(OPERATOR_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Shop name").fill("Harbor Goods")
    page.get_by_label("Shop domain").fill("harbor-goods.myshopify.com")
    page.get_by_label("Products").fill("6")
    page.get_by_role("button", name="Onboard shop").click()
    page.get_by_text("Onboarded Harbor Goods").wait_for()
    merchant = page.locator("#merchants-table tr", has_text="Harbor Goods")
    merchant.wait_for()
    assert (
        served.rows(
            "SELECT count(*) FROM products p JOIN merchants m ON m.id = p.merchant_id "
            "WHERE m.name = 'Harbor Goods' AND p.active"
        )[0][0]
        == 6
    )
    page.get_by_role("button", name="Sync Harbor Goods").click()
    page.get_by_text("Harbor Goods synced").wait_for()
    page.get_by_role("button", name="Payments onboarding link for Harbor Goods").click()
    page.locator("#onboarding-link").wait_for()

    # A feed merchant (made over the API) gets its products through the page's feed form.
    created = httpx.post(
        f"{served.base_url}/merchants",
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        json={"name": "Paper & Ink", "platform": "feed", "currency": "USD"},
    )
    page.get_by_label("Merchant id (a feed merchant)").fill(created.json()["id"])
    page.get_by_label("Feed (JSON array or NDJSON)").fill(
        '{"id": "pen", "title": "Fineliner Pen", "variants": [{"id": "pen-03", '
        '"title": "0.3 mm", "price": {"amount": 450, "currency": "USD"}}]}'
    )
    page.get_by_role("button", name="Upload feed").click()
    page.get_by_text("Feed taken").wait_for()
    assert '"created":1' in page.locator("#feed-result").inner_text()
    assert page.locator("#revenue table").count() == 2
    screenshot(page, "operator.png")


def test_the_shop_fits_a_phone_and_works_from_the_keyboard(browser: Any, served: Served) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        open_shop(page, served)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # Keyboard only: tab from the top of the page to the message box, type, press Enter.
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "message":
                break
        assert page.evaluate("document.activeElement.id") == "message"
        page.keyboard.type("a ceramic mug")
        page.keyboard.press("Enter")
        wait_for_reply(page)
        page.locator(".cards .card").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                 .filter(i => i.type !== 'radio' && !(i.labels && i.labels.length)
                              && !i.getAttribute('aria-label')).map(i => i.id)"""
        )
        assert unlabelled == []
        screenshot(page, "shop-phone.png")
    finally:
        context.close()


def test_docs_work_offline_with_authorize(page: Any, served: Served) -> None:
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(served.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{served.base_url}/docs")
    page.get_by_role("button", name="Authorize").wait_for()
    assert outside == []
    schema = httpx.get(f"{served.base_url}/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {
        "agentKey",
        "operatorKey",
        "merchantKey",
    }
    screenshot(page, "docs.png")
