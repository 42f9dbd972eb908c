// The operator's console: onboard a sandbox shop, sync, upload a feed, see the platform's revenue.
"use strict";

const op = { key: null };

async function signIn(event) {
  event.preventDefault();
  op.key = document.getElementById("operator-key").value.trim();
  const error = document.getElementById("signin-error");
  error.textContent = "";
  try {
    await loadMerchants();
  } catch (exc) {
    showError(error, exc);
    return;
  }
  document.getElementById("console").hidden = false;
  await loadRevenue();
}

async function loadMerchants() {
  const found = await api("GET", "/merchants", { key: op.key });
  const merchants = found.merchants || found;
  document.querySelector("#merchants-table tbody").replaceChildren(...merchants.map((m) => el("tr", { "data-merchant": m.id },
    el("td", {}, el("strong", {}, m.name), el("br"), m.id),
    el("td", {}, m.platform),
    el("td", {}, el("span", { class: "status" }, m.status)),
    el("td", { class: "num" }, m.active_products),
    el("td", {}, m.last_synced_at || "never"),
    el("td", {},
      el("button", { type: "button", class: "secondary", onclick: () => sync(m) }, `Sync ${m.name}`), " ",
      el("button", { type: "button", class: "secondary", onclick: () => issueKey(m) }, `New key for ${m.name}`), " ",
      el("button", { type: "button", class: "secondary", onclick: () => paymentsLink(m) }, `Payments onboarding link for ${m.name}`)))));
}

async function sync(merchant) {
  const result = document.getElementById("merchants-result");
  try {
    const counts = await api("POST", `/merchants/${merchant.id}/sync`, { key: op.key, body: { mode: "full" } });
    result.textContent = `${merchant.name} synced: ${JSON.stringify(counts.counts || counts)}`;
  } catch (exc) { showError(result, exc); }
  await loadMerchants();
}

async function issueKey(merchant) {
  const result = document.getElementById("merchants-result");
  try {
    const issued = await api("POST", `/merchants/${merchant.id}/api_key`, { key: op.key });
    result.replaceChildren(`${merchant.name}'s new key (shown once): `, el("code", { id: "issued-key" }, issued.api_key));
  } catch (exc) { showError(result, exc); }
}

// The payment provider's hosted onboarding (Stripe Connect), for the merchant to open.
async function paymentsLink(merchant) {
  const result = document.getElementById("merchants-result");
  try {
    const link = await api("POST", `/merchants/${merchant.id}/payments/onboarding_link`, { key: op.key });
    result.replaceChildren(`${merchant.name}: payments ${link.payments.status || "pending"}; onboarding link (single use, until ${link.expires_at}): `,
      el("a", { href: link.url, id: "onboarding-link" }, link.url));
  } catch (exc) { showError(result, exc); }
}

async function onboard(event) {
  event.preventDefault();
  const value = (id) => document.getElementById(id).value.trim();
  const result = document.getElementById("onboard-result");
  result.textContent = "Opening the shop in the sandbox…";
  try {
    const shop = await api("POST", `/sandbox/shopify/_control/${value("shop-domain")}/synthetic`,
      { key: op.key, body: { products: parseInt(value("shop-products"), 10) } });
    result.textContent = "Onboarding…";
    const merchant = await api("POST", "/merchants", { key: op.key, body: {
      name: value("shop-name"), platform: "shopify", shop_domain: value("shop-domain"),
      credentials: shop.credentials, api_base_url: shop.api_base_url,
      commission: { rate_bps: Math.round(parseFloat(value("shop-commission") || "0") * 100) },
    } });
    result.replaceChildren(`Onboarded ${merchant.name} (${merchant.id}): ${merchant.active_products ?? ""} products. `,
      merchant.api_key ? el("span", {}, "Merchant key (shown once): ", el("code", { id: "new-merchant-key" }, merchant.api_key)) : "");
  } catch (exc) { showError(result, exc); }
  await loadMerchants();
}

async function uploadFeed(event) {
  event.preventDefault();
  const result = document.getElementById("feed-result");
  const merchant = document.getElementById("feed-merchant").value.trim();
  const file = document.getElementById("feed-file").files[0];
  const text = file ? await file.text() : document.getElementById("feed-body").value;
  const ndjson = !text.trim().startsWith("[");
  try {
    const counts = await api("POST", `/merchants/${encodeURIComponent(merchant)}/feed`,
      { key: op.key, body: text, raw: true, contentType: ndjson ? "application/x-ndjson" : "application/json" });
    result.textContent = `Feed taken: ${JSON.stringify(counts)}`;
  } catch (exc) { showError(result, exc); }
  await loadMerchants();
}

async function loadRevenue() {
  const r = await api("GET", "/platform/revenue", { key: op.key });
  const table = (title, rows, first) => el("div", { class: "table-wrap" }, el("h3", {}, title), el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, first), ["Commission", "Given back", "Processor fees", "Net"].map((h) => el("th", { class: "num" }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, el("td", {}, row.label),
      [row.commission, row.commission_refunded, row.processor_fees, row.net].map((v) => el("td", { class: "num" }, money(v, row.currency))))))));
  document.getElementById("revenue").replaceChildren(
    table("By day", r.by_day.map((d) => ({ ...d, label: d.date })), "Day"),
    table("By merchant", r.by_merchant.map((m) => ({ ...m, label: m.name || m.merchant_id })), "Merchant"));
}

document.getElementById("signin").addEventListener("submit", signIn);
document.getElementById("onboard").addEventListener("submit", onboard);
document.getElementById("feed").addEventListener("submit", uploadFeed);
document.body.dataset.ready = "true";
