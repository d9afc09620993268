// Receipts, the orders screen and the needs-attention screen.
import { $, api, el, live, onStatus, openDialog, showError, toast } from "./core.js";
import { focusScan, showReceipt } from "./sell.js";

const FILTERS = [["all", "All"], ["pending", "Waiting to upload"], ["synced", "In WooCommerce"],
  ["failed", "Failed"], ["discrepancy", "With a difference"], ["voided", "Voided"]];
let filter = "all";

const row = (a, b, cls = "r-row") => el("div", { class: cls }, el("span", {}, a), el("span", {}, b));

// The receipt: what the customer takes home (80 mm wide when printed).
export function renderReceipt(o) {
  const parts = [
    el("div", { class: "r-center r-store" }, o.store.name),
    ...o.store.address.map((a) => el("div", { class: "r-center r-small" }, a)),
    el("hr"),
    row(o.datetime_text, o.timezone, "r-row r-small"),
    row("Receipt", o.short, "r-row r-small"),
    row("WooCommerce order", o.number ? `#${o.number}` : "not yet uploaded", "r-row r-small"),
    el("hr"),
  ];
  for (const l of o.lines) {
    parts.push(row(l.name, l.amount_text));
    parts.push(el("div", { class: "r-sub r-small" }, `${l.qty} × ${l.unit_text}${l.sku ? `  ${l.sku}` : ""}`));
  }
  parts.push(el("hr"));
  if (!o.prices_include_tax) parts.push(row("Subtotal", o.subtotal_text));
  for (const t of o.taxes) parts.push(row(o.prices_include_tax ? `incl. ${t.label}` : t.label, t.amount_text));
  parts.push(row("TOTAL", o.total_text, "r-row r-total"));
  parts.push(el("hr"));
  parts.push(row(o.payment_title, o.method === "cash" ? o.tendered_text : o.total_text));
  if (o.method === "cash") parts.push(row("Change", o.change_text));
  if (o.card) parts.push(row("Card", o.card, "r-row r-small"));
  if (o.reference) parts.push(row("Reference", o.reference, "r-row r-small"));
  parts.push(el("hr"));
  parts.push(el("div", { class: "r-center r-small" }, `Order ${o.uuid}`));
  parts.push(el("div", { class: "r-center r-small" }, `${o.items} item${o.items === 1 ? "" : "s"} · till ${o.till_id}`));
  if (o.state === "voided") parts.push(el("div", { class: "r-center r-total" }, "VOIDED"));
  parts.push(el("div", { class: "r-center" }, "Thank you!"));
  return parts;
}

export function printReceipt(o) {
  const area = $("print-area");
  area.replaceChildren(el("article", { class: "receipt" }, ...renderReceipt(o)));
  window.print();
}

function stateBadge(o) {
  return el("span", { class: `state ${o.state}` }, o.state_text);
}

// --- order detail (receipt + sync state + actions) ------------------------------------
async function openOrder(uuid) {
  let o;
  try { o = await api(`/api/orders/${uuid}`); } catch (err) { toast(err.message, "bad"); return; }
  showReceipt(o, false);
  const extra = [
    el("h3", {}, "Upload"),
    el("dl", { class: "attempts" },
      el("dt", {}, "State"), el("dd", {}, stateBadge(o)),
      el("dt", {}, "WooCommerce order"), el("dd", {}, o.number ? `#${o.number}` : "–"),
      el("dt", {}, "Attempts"), el("dd", {}, String(o.attempts)),
      o.first_sent_at ? [el("dt", {}, "First sent"), el("dd", {}, o.first_sent_at)] : null,
      ["pending_sync", "in_flight"].includes(o.state) ? [el("dt", {}, "Next attempt"), el("dd", {}, o.next_attempt_at)] : null,
      o.last_error ? [el("dt", {}, "Store's message"), el("dd", {}, o.last_error)] : null,
      o.discrepancy ? [el("dt", {}, "Difference"), el("dd", {}, o.discrepancy)] : null,
      o.void_reason ? [el("dt", {}, "Void reason"), el("dd", {}, o.void_reason)] : null),
  ];
  if (o.state === "failed") {
    extra.push(el("div", { class: "dialog-actions" },
      el("button", { class: "btn", type: "button", onclick: () => { $("receipt-dialog").close(); retry(o.uuid); } }, "Retry upload"),
      el("button", { class: "btn danger", type: "button", onclick: () => { $("receipt-dialog").close(); askVoid(o); } }, "Void…")));
  }
  $("order-extra").replaceChildren(...extra);
}

async function retry(uuid) {
  try {
    await api(`/api/orders/${uuid}/retry`, { method: "POST", body: {} });
    toast("Queued again: uploading now", "ok");
  } catch (err) { toast(err.message, "bad"); }
  refresh();
}

function askVoid(o) {
  const d = $("void-dialog");
  $("void-title").textContent = `Void order ${o.short}?`;
  $("void-reason").value = "";
  $("void-error").hidden = true;
  d.returnValue = "";
  $("void-form").onsubmit = async (e) => {
    e.preventDefault();
    const reason = $("void-reason").value.trim();
    if (!reason) { showError($("void-error"), new Error("Say why: the reason is kept with the order.")); $("void-reason").focus(); return; }
    try {
      await api(`/api/orders/${o.uuid}/void`, { method: "POST", body: { reason } });
      d.close();
      toast(`Order ${o.short} voided`, "ok");
      refresh();
    } catch (err) { showError($("void-error"), err); }
  };
  openDialog(d);
  $("void-reason").focus();
}

// --- orders screen ---------------------------------------------------------------------
export async function showOrders() {
  const chips = $("order-filters");
  if (!chips.children.length) {
    chips.replaceChildren(...FILTERS.map(([k, label]) => el("button", { type: "button", dataset: { f: k }, "aria-pressed": String(k === filter),
      onclick: () => { filter = k; showOrders(); } }, label, el("span", { class: "count" }))));
  }
  const day = $("orders-all-days").checked ? "all" : "today";
  let data;
  try { data = await api(`/api/orders?filter=${filter}&day=${day}`); } catch (err) { toast(err.message, "bad"); return; }
  $("orders-title").textContent = day === "today" ? "Today's sales" : "All sales";
  for (const b of chips.children) {
    b.setAttribute("aria-pressed", String(b.dataset.f === filter));
    b.querySelector(".count").textContent = ` (${data.counts[b.dataset.f] ?? 0})`;
  }
  $("orders-body").replaceChildren(...data.orders.map((o) => el("tr", { class: "clickable", onclick: () => openOrder(o.uuid) },
    el("td", {}, day === "today" ? o.time_text : `${o.date_text} ${o.time_text}`),
    el("td", {}, el("button", { class: "link", type: "button", "aria-label": `Open order ${o.short}` }, o.short)),
    el("td", {}, o.number ? `#${o.number}` : "–"),
    el("td", {}, o.payment),
    el("td", { class: "num" }, o.total_text),
    el("td", {}, stateBadge(o)))));
  $("orders-empty").hidden = data.orders.length > 0;
}

// --- needs attention ----------------------------------------------------------------------
function issue(o, warn) {
  const actions = warn
    ? [el("button", { class: "btn small", type: "button", onclick: () => openOrder(o.uuid) }, "Open")]
    : [el("button", { class: "btn small primary", type: "button", onclick: () => retry(o.uuid), "aria-label": `Retry order ${o.short}` }, "Retry"),
      el("button", { class: "btn small danger", type: "button", onclick: () => askVoid(o), "aria-label": `Void order ${o.short}` }, "Void…"),
      el("button", { class: "btn small", type: "button", onclick: () => openOrder(o.uuid) }, "Open")];
  return el("li", { class: `issue${warn ? " warn" : ""}` },
    el("div", { class: "i-title" }, `Order ${o.short} · ${o.total_text} · ${o.date_text} ${o.time_text}`, o.number ? ` · #${o.number}` : ""),
    el("div", { class: "i-msg" }, warn ? o.discrepancy || "differs from the sale" : `WooCommerce said: ${o.last_error || "refused"}`),
    el("div", { class: "i-actions" }, ...actions));
}

export async function showAttention() {
  let data;
  try { data = await api("/api/attention"); } catch (err) { toast(err.message, "bad"); return; }
  $("paused").hidden = !data.paused;
  $("paused-reason").textContent = data.paused || "";
  const none = (text) => el("li", { class: "issue-none" }, text);
  $("failed-list").replaceChildren(...(data.failed.length ? data.failed.map((o) => issue(o, false)) : [none("No failed orders.")]));
  $("differ-list").replaceChildren(...(data.discrepancies.length ? data.discrepancies.map((o) => issue(o, true)) : [none("None.")]));
  $("stock-body").replaceChildren(...(data.stock.length ? data.stock.map((d) => el("tr", {},
    el("td", {}, d.at.replace("T", " ").slice(0, 19)),
    el("td", {}, d.name || `${d.object} ${d.id}`),
    el("td", { class: "num" }, d.local ?? "–"),
    el("td", { class: "num" }, d.store ?? "–"),
    el("td", {}, d.cause))) : [el("tr", {}, el("td", { colspan: "5" }, "No stock corrections."))]));
}

function refresh() {
  if (!$("screen-orders").hidden) showOrders();
  if (!$("screen-attention").hidden) showAttention();
}

async function submitKeys(e) {
  e.preventDefault();
  const box = $("keys-error");
  box.hidden = true;
  try {
    await api("/api/setup/keys", { method: "POST", body: { key: $("k-key").value, secret: $("k-secret").value } });
    $("k-secret").value = "";
    toast("New keys saved: uploads resume", "ok");
    showAttention();
  } catch (err) { showError(box, err); }
}

export function initOrders() {
  $("orders-all-days").addEventListener("change", showOrders);
  $("keys-form").addEventListener("submit", submitKeys);
  let last = "";
  onStatus((s) => {
    const key = [s.pending_orders, s.failed_orders, s.attention_orders, s.queue_paused, s.last_sync_at].join("|");
    if (key !== last) { last = key; refresh(); }
  });
  $("void-dialog").addEventListener("close", () => { if ($("screen-sell").hidden === false) focusScan(); });
  void live;
}
