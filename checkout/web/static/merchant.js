// The merchant's dashboard: its orders and their money, refunds, shipments, statement, catalog.
"use strict";

const me = { id: null, key: null, offset: 0, limit: 20, currency: "usd" };

function get(path) { return api("GET", path, { key: me.key }); }

async function signIn(event) {
  event.preventDefault();
  me.id = document.getElementById("merchant-id").value.trim();
  me.key = document.getElementById("merchant-key").value.trim();
  const error = document.getElementById("signin-error");
  error.textContent = "";
  try {
    await loadProfile();
  } catch (exc) {
    showError(error, exc);
    return;
  }
  document.getElementById("dashboard").hidden = false;
  await Promise.all([loadOrders(), loadStatement(), loadCatalog()]);
  document.getElementById("profile-title").focus();
}

async function loadProfile() {
  const m = await get(`/merchants/${encodeURIComponent(me.id)}`);
  me.currency = m.currency || "usd";
  document.getElementById("profile").replaceChildren(el("dl", {},
    el("dt", {}, "Name"), el("dd", {}, m.name),
    el("dt", {}, "Platform"), el("dd", {}, `${m.platform} (${m.shop_name || m.shop_id || "feed"})`),
    el("dt", {}, "Status"), el("dd", {}, el("span", { class: "status" }, m.status), m.status_reason ? ` ${m.status_reason}` : ""),
    el("dt", {}, "Payments (Stripe Connect)"), el("dd", {}, `${m.payments.status || "not started"}${m.payments.account_id ? ` · ${m.payments.account_id}` : ""}`),
    el("dt", {}, "Commission"), el("dd", {}, `${(m.commission.rate_bps / 100).toFixed(2)}%${m.commission.fixed ? ` + ${money(m.commission.fixed, me.currency)}` : ""}`),
    el("dt", {}, "Active products"), el("dd", {}, m.active_products),
    el("dt", {}, "Last sync"), el("dd", {}, m.last_synced_at || "never")));
}

async function loadOrders() {
  const params = new URLSearchParams({ limit: me.limit, offset: me.offset });
  const status = document.getElementById("filter-status").value;
  const from = document.getElementById("filter-from").value;
  const to = document.getElementById("filter-to").value;
  if (status) params.set("status", status);
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  const page = await get(`/merchants/${encodeURIComponent(me.id)}/orders?${params}`);
  const body = document.querySelector("#orders-table tbody");
  body.replaceChildren(...page.orders.map(orderRow));
  if (!page.orders.length) body.append(el("tr", {}, el("td", { colspan: 8 }, "No orders yet.")));
  document.getElementById("orders-prev").disabled = me.offset === 0;
  document.getElementById("orders-next").disabled = page.next_offset === null;
  document.getElementById("orders-message").textContent = `${page.total_count} order(s)`;
}

function orderRow(o) {
  const m = o.money;
  const c = o.currency;
  const refundable = m.charged - m.refunded;
  const refundAmount = el("input", { type: "number", min: 0.01, step: "0.01", value: (Math.floor(refundable / 2) / 100).toFixed(2),
    id: `refund-${o.id}`, "aria-label": `Refund amount for order ${o.order_number}` });
  const carrier = el("input", { id: `carrier-${o.id}`, value: "UPS", "aria-label": `Carrier for order ${o.order_number}` });
  const tracking = el("input", { id: `tracking-${o.id}`, placeholder: "tracking number", "aria-label": `Tracking number for order ${o.order_number}` });
  return el("tr", { "data-order": o.id },
    el("td", {}, el("strong", {}, o.order_number), el("br"), new Date(o.created_at).toLocaleString()),
    el("td", {}, el("span", { class: "status order-status" }, o.status)),
    el("td", { class: "num" }, money(m.charged, c)),
    el("td", { class: "num" }, money(m.commission - m.commission_refunded, c)),
    el("td", { class: "num" }, money(m.processor_fee, c)),
    el("td", { class: "num refunded" }, money(m.refunded, c)),
    el("td", { class: "num" }, money(m.merchant_net, c)),
    el("td", {},
      refundable > 0 ? el("div", { class: "row" }, refundAmount, el("button", { type: "button", class: "secondary",
        onclick: () => refund(o, Math.round(parseFloat(refundAmount.value) * 100)) }, "Refund")) : null,
      ["confirmed", "processing"].includes(o.status) ? el("div", { class: "row" }, carrier, tracking,
        el("button", { type: "button", class: "secondary", onclick: () => ship(o, carrier.value, tracking.value) }, "Mark shipped")) : null));
}

async function refund(order, amount) {
  const message = document.getElementById("action-result");
  try {
    const done = await api("POST", `/merchants/${encodeURIComponent(me.id)}/orders/${order.id}/refunds`,
      { key: me.key, body: { amount, reason: "requested_by_customer" }, idempotencyKey: newKey("refund") });
    message.textContent = `Refunded ${money(done.amount, done.currency)} on order ${order.order_number} (${done.status}).`;
  } catch (exc) { showError(message, exc); }
  await Promise.all([loadOrders(), loadStatement()]);
}

async function ship(order, carrier, trackingNumber) {
  const message = document.getElementById("action-result");
  try {
    await api("POST", `/merchants/${encodeURIComponent(me.id)}/orders/${order.id}/fulfillments`,
      { key: me.key, body: { carrier, tracking_number: trackingNumber } });
    message.textContent = `Order ${order.order_number} marked shipped.`;
  } catch (exc) { showError(message, exc); }
  await loadOrders();
}

async function loadStatement(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  const from = document.getElementById("statement-from").value;
  const to = document.getElementById("statement-to").value;
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  const s = await get(`/merchants/${encodeURIComponent(me.id)}/statement?${params}`);
  const c = s.currency || me.currency;
  const line = (label, amount) => el("tr", {}, el("th", {}, label), el("td", { class: "num" }, money(amount, c)));
  document.getElementById("statement").replaceChildren(el("table", { id: "statement-table" }, el("tbody", {},
    el("tr", {}, el("th", {}, "Orders"), el("td", { class: "num" }, s.orders)),
    line("Gross sales", s.gross_sales), line("Commission", s.commission), line("Refunds", s.refunds),
    line("Commission refunded", s.commission_refunded), line("Disputes", s.disputes), line("Net", s.net))));
}

async function loadCatalog() {
  const catalog = await get(`/merchants/${encodeURIComponent(me.id)}/products?limit=50`);
  document.getElementById("catalog").replaceChildren(
    el("p", {}, `Last sync: ${catalog.last_synced_at || "never"} · ${catalog.total_count} product(s)`),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Product"), el("th", {}, "Variant"), el("th", { class: "num" }, "Price"), el("th", { class: "num" }, "Stock"))),
      el("tbody", {}, catalog.products.flatMap((p) => p.variants.map((v) => el("tr", {},
        el("td", {}, p.title, p.active ? "" : " (retired)"), el("td", {}, v.title),
        el("td", { class: "num" }, money(v.price, v.currency)), el("td", { class: "num" }, v.inventory))))))));
}

document.getElementById("signin").addEventListener("submit", signIn);
document.getElementById("order-filter").addEventListener("submit", (e) => { e.preventDefault(); me.offset = 0; loadOrders(); });
document.getElementById("statement-form").addEventListener("submit", loadStatement);
document.getElementById("orders-prev").addEventListener("click", () => { me.offset = Math.max(0, me.offset - me.limit); loadOrders(); });
document.getElementById("orders-next").addEventListener("click", () => { me.offset += me.limit; loadOrders(); });
document.getElementById("profile-title").tabIndex = -1;
document.body.dataset.ready = "true";
