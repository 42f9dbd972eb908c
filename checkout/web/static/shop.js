// The shop: a conversation with the assistant (streamed), checkout's state, and the inspector.
"use strict";

// The conversation's token travels only in the Authorization header. Streaming uses fetch()
// (the route is a POST and EventSource can set no headers), so no token ever sits in a URL.
const state = { id: null, token: null, inspectedAfter: 0, busy: false, orders: {} };
const log = document.getElementById("log");

async function startConversation() {
  const saved = JSON.parse(sessionStorage.getItem("conversation") || "null");
  if (saved) {
    try {
      await api("GET", `/assistant/conversations/${saved.id}`, { key: saved.token });
      Object.assign(state, saved);
      return;
    } catch { /* a new database: start over */ }
  }
  const created = await api("POST", "/assistant/conversations");
  state.id = created.id;
  state.token = created.token;
  sessionStorage.setItem("conversation", JSON.stringify({ id: state.id, token: state.token }));
}

function addMessage(role, text) {
  const item = el("li", { class: `msg ${role}` }, el("span", { class: "visually-hidden" }, `${role}: `));
  const body = el("div", { class: "text" }, text || "");
  item.append(body);
  log.append(item);
  log.scrollTop = log.scrollHeight;
  return item;
}

function imageFor(card) {
  const label = card.title || "Product";
  return `/web/images/placeholder.svg?label=${encodeURIComponent(label)}&key=${encodeURIComponent(card.product_id || label)}`;
}

function renderCards(part) {
  return el("div", { class: "cards" }, part.cards.map((card) => el("article", { class: "card", "aria-label": card.title },
    el("img", { src: imageFor(card), alt: card.title, width: 320, height: 240, loading: "lazy" }),
    el("div", {}, el("strong", {}, `${card.position}. ${card.title}`), card.variant_title ? ` — ${card.variant_title}` : ""),
    el("div", { class: "price" }, card.price.display, card.list_price ? el("s", {}, ` ${card.list_price.display}`) : ""),
    el("div", {}, card.merchant.name),
    card.rating ? el("div", {}, `★ ${card.rating} (${card.review_count} reviews)`) : null,
    el("div", { class: `stock-${card.availability.status}` },
      card.availability.status.replace(/_/g, " "), ` (${card.availability.available_quantity} left)`),
    card.reasons.length ? el("ul", { class: "reasons" }, card.reasons.map((r) => el("li", {}, r))) : null,
    el("button", { type: "button", class: "secondary", onclick: () => send({ text: `buy the ${ordinal(card.position)} one` }) }, "Buy this"),
  )));
}

function ordinal(n) {
  return ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"][n - 1] || `#${n}`;
}

function renderCheckout(part) {
  const target = document.getElementById("checkout-state");
  target.replaceChildren(...part.sessions.map((s) => el("div", { class: "session", "data-session": s.checkout_session_id },
    el("h3", {}, `${s.merchant.name} `, el("span", { class: "status" }, s.status.replace(/_/g, " "))),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Item"), el("th", { class: "num" }, "Qty"), el("th", { class: "num" }, "Each"), el("th", { class: "num" }, "Line, with tax"))),
      el("tbody", {}, s.line_items.map((li) => el("tr", {}, el("td", {}, li.title), el("td", { class: "num" }, li.quantity), el("td", { class: "num" }, li.unit_price.display), el("td", { class: "num" }, li.total.display)))),
    )),
    s.shipping_options.length ? el("p", {}, "Shipping: ", s.shipping_options.map((o) => `${o.title} ${o.price.display}${o.selected ? " (chosen)" : ""}`).join(" · ")) : null,
    el("dl", { class: "totals" }, s.totals.map((t) => [el("dt", {}, t.display_text || t.type), el("dd", { "data-total": t.type }, t.display)])),
    s.messages.map((m) => el("p", { class: m.type === "error" ? "error" : "notice" }, m.content)),
  )), el("p", {}, el("strong", {}, `Grand total: ${part.grand_total.display}`)));
}

function renderOrders(part) {
  for (const order of part.orders) {
    state.orders[order.order_id] = { ...(state.orders[order.order_id] || {}), ...order };
    // The session that became this order is finished: say so where its totals are shown.
    const shown = document.querySelector(`[data-session="${order.checkout_session_id}"] .status`);
    if (shown) shown.textContent = "completed";
  }
  drawOrders();
}

function drawOrders() {
  const target = document.getElementById("orders");
  const orders = Object.values(state.orders);
  if (!orders.length) return;
  target.replaceChildren(el("h3", {}, "Orders"), el("ul", {}, orders.map((o) => el("li", { "data-order": o.order_id },
    el("strong", {}, o.order_number || o.order_id), ` · ${o.merchant ? o.merchant.name : ""} · `,
    o.total ? `${o.total.display} · ` : "", el("span", { class: "status ok order-status" }, o.status || "")))));
}

function renderPart(container, part) {
  if (part.type === "product_cards") container.append(renderCards(part));
  else if (part.type === "checkout") renderCheckout(part);
  else if (part.type === "order") renderOrders(part);
  else if (part.type === "suggested_replies") {
    container.append(el("div", { class: "suggestions", role: "group", "aria-label": "Suggested replies" },
      part.replies.map((reply) => el("button", { type: "button", onclick: () => send({ text: reply }) }, reply))));
  }
}

function setBusy(busy) {
  state.busy = busy;
  for (const button of document.querySelectorAll("main button")) button.disabled = busy;
}

// One turn, streamed: `delta` text, `part`s, then `done` (or `error`).
async function send(message) {
  if (state.busy) return;
  const error = document.getElementById("chat-error");
  error.textContent = "";
  setBusy(true);
  addMessage("shopper", message.text || describe(message));
  const reply = addMessage("assistant", "");
  const text = reply.querySelector(".text");
  try {
    const response = await fetch(`/assistant/conversations/${state.id}/messages/stream`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.token}`, "Idempotency-Key": newKey("web") },
      body: JSON.stringify(message),
    });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (!event || !data) continue;
        const payload = JSON.parse(data[1]);
        if (event[1] === "delta") text.textContent += payload.text;
        else if (event[1] === "part") renderPart(reply, payload);
        else if (event[1] === "error") showError(error, new ApiError(400, payload));
      }
    }
    afterReply(text.textContent);
  } catch (exc) {
    showError(error, exc);
  } finally {
    setBusy(false);
    pollInspector();
    refreshOrders();
    document.getElementById("message").focus();
  }
}

function describe(message) {
  if (message.shipping_address) return `Ship to ${message.shipping_address.name}, ${message.shipping_address.line_one}, ${message.shipping_address.city}`;
  if (message.shipping) return `${message.shipping} shipping, please`;
  return JSON.stringify(message);
}

// 3-D Secure: the assistant says the bank wants a confirmation; the page plays the bank.
function afterReply(text) {
  const challenge = document.getElementById("challenge");
  const waiting = /3-D Secure/.test(text) && /approve/i.test(text);
  challenge.hidden = !waiting;
  if (waiting) {
    document.getElementById("challenge-text").textContent = text;
    document.getElementById("approve-3ds").focus();
  }
}

function showCall(call) {
  const headline = el("summary", {},
    el("span", { class: `kind ${call.kind}` }, call.kind.replace("_", " ")), " ",
    el("span", { class: "method" }, call.method), ` ${call.path} → `,
    el("span", { class: `status ${call.status && call.status < 400 ? "ok" : "bad"}` }, call.status ?? call.error ?? "…"),
    call.duration_ms !== null ? ` ${call.duration_ms} ms` : "",
    call.idempotency_key ? ` · key ${call.idempotency_key}` : "",
    call.replayed ? " · replayed" : "");
  const section = (title, value) => value === null || value === undefined ? null : [el("h4", {}, title), el("pre", {}, JSON.stringify(value, null, 2))];
  return el("li", { "data-seq": call.seq, "data-kind": call.kind, "data-path": call.path },
    el("details", {}, headline, el("p", {}, `#${call.seq} at ${call.at}`),
      section("Request headers", call.request_headers), section("Request body", call.request_body),
      section("Response headers", call.response_headers), section("Response body", call.response_body)));
}

// One poll at a time, and each call shown once, however the timer and a reply overlap.
async function pollInspector() {
  if (!state.id || state.polling) return;
  state.polling = true;
  try {
    const found = await api("GET", `/assistant/conversations/${state.id}/inspector?after=${state.inspectedAfter}`, { key: state.token });
    const list = document.getElementById("calls");
    for (const call of found.calls) {
      if (call.seq <= state.inspectedAfter) continue;
      list.append(showCall(call));
      state.inspectedAfter = call.seq;
    }
  } catch { /* the next poll tries again */ } finally {
    state.polling = false;
  }
}

// Order status follows the webhooks checkout sends the assistant.
async function refreshOrders() {
  if (!state.id) return;
  try {
    const history = await api("GET", `/assistant/conversations/${state.id}`, { key: state.token });
    for (const c of history.checkouts) {
      if (!c.order_id) continue;
      const known = state.orders[c.order_id] || {};
      state.orders[c.order_id] = { ...known, order_id: c.order_id, order_number: c.order_number,
        merchant: c.merchant, status: c.order_status || known.status,
        total: known.total || { display: money(c.total, c.currency) } };
    }
    drawOrders();
  } catch { /* try again on the next tick */ }
}

function wire() {
  document.getElementById("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("message");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text });
  });
  document.getElementById("address-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    send({
      shipping_address: { name: value("addr-name"), line_one: value("addr-line1"), city: value("addr-city"),
        state: value("addr-state"), postal_code: value("addr-postal"), country: "US" },
      email: value("addr-email"),
    });
  });
  document.getElementById("shipping-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send({ shipping: document.querySelector("input[name=shipping]:checked").value });
  });
  document.getElementById("card-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const number = document.getElementById("card-number").value.trim();
    const exp = document.getElementById("card-exp").value.trim();
    const cvc = document.getElementById("card-cvc").value.trim();
    send({ text: `pay with ${number} exp ${exp} cvc ${cvc}` });
  });
  document.getElementById("place-order").addEventListener("click", () => send({ text: "yes, place the order" }));
  document.getElementById("approve-3ds").addEventListener("click", () => send({ text: "I approved it" }));
  document.getElementById("decline-3ds").addEventListener("click", () => send({ text: "I declined it" }));
}

async function main() {
  wire();
  try {
    await startConversation();
    const history = await api("GET", `/assistant/conversations/${state.id}`, { key: state.token });
    for (const message of history.messages) {
      const item = addMessage(message.role === "user" ? "shopper" : message.role === "assistant" ? "assistant" : "event", message.text);
      for (const part of message.parts || []) renderPart(item, part);
    }
    if (!history.messages.length) addMessage("assistant", "Hi! Tell me what you are looking for, e.g. “a handmade ceramic mug under $40”.");
  } catch (exc) {
    showError(document.getElementById("chat-error"), exc);
  }
  document.body.dataset.ready = "true";
  setInterval(pollInspector, 1000);
  setInterval(refreshOrders, 2000);
  pollInspector();
}

main();
