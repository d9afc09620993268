// The sell screen: scan field, search, product grid, cart, cash and card payment.
//
// Scans never get lost or split: Enter takes the field's whole text at once,
// clears it, and queues the code; queued actions go to the server one at a
// time, each with the cart the previous answer left. The field is never
// disabled, so a scanner typing during a request types into it.
import { $, api, boot, el, fromMinor, live, money, newKey, onStatus, openDialog, showError, toMinor, toast } from "./core.js";
import { renderReceipt, printReceipt } from "./orders.js";
import { cardUnavailable, initCard, startCard, terminal } from "./card.js";

const STORE_KEY = "onetill.cart";
const scan = () => $("scan");
let cart = { lines: [], key: null }; // lines: [{id, qty, confirmed}]
let priced = null; // the server's last answer
const queue = [];
let busy = false;
let searchTimer = null;
let view = { category: null, q: "", offset: 0 };
let lastGrid = "";
let payMethod = "cash";
let paying = false;

function save() { localStorage.setItem(STORE_KEY, JSON.stringify(cart)); }
function load() {
  try {
    const c = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (c && Array.isArray(c.lines)) cart = c;
  } catch { /* a broken saved cart: start empty */ }
}

export function focusScan() {
  const d = document.querySelector("dialog[open]");
  if (!d && !$("screen-sell").hidden) scan().focus({ preventScroll: true });
}

// --- the action queue --------------------------------------------------------
function enqueue(action) {
  queue.push(action);
  pump();
}

async function pump() {
  if (busy) return;
  busy = true;
  updatePay();
  let tries = 0;
  while (queue.length) {
    const action = queue[0];
    try {
      const res = await api("/api/cart", { method: "POST", body: { lines: cart.lines, action } });
      queue.shift();
      tries = 0;
      accept(res, action);
    } catch (err) {
      if (err.status === 0 && tries < 20) { // the engine restarts: keep the scan, try again
        tries += 1;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      queue.shift();
      const what = action && action.kind === "scan" ? `${action.code}: ` : "";
      toast(`${what}${err.message}`, "bad");
    }
  }
  busy = false;
  updatePay();
}

function accept(res, action) {
  const flagged = new Set(cart.lines.filter((l) => l.confirmed).map((l) => l.id));
  priced = res;
  cart.lines = res.lines.map((l) => ({ id: l.id, qty: l.qty, confirmed: l.confirmed || flagged.has(l.id) }));
  if (cart.lines.length && !cart.key) cart.key = newKey();
  save();
  renderCart(res.added ? res.added.id : null);
  for (const d of res.dropped || []) toast(`Removed from the sale: ${d.message}`, "bad");
  const p = res.problem;
  if (!p) {
    if (res.added && action && action.kind !== "set") $("scan-help").textContent = `Added ${res.added.name}`;
    return;
  }
  if (p.kind === "confirm") {
    $("confirm-text").textContent = p.message;
    const d = $("confirm-dialog");
    d.returnValue = "";
    d.onclose = () => {
      if (d.returnValue === "yes") enqueue({ ...action, confirm: true });
      focusScan();
    };
    openDialog(d);
    $("confirm-no").focus();
  } else if (p.kind === "choose") {
    pickVariation(p.product);
  } else {
    toast(p.message, "bad");
    $("scan-help").textContent = p.kind === "unknown" ? "Unknown code: nothing added" : "Nothing added";
  }
}

// --- cart ------------------------------------------------------------------------
function renderCart(flashId) {
  const list = $("lines");
  const focused = document.activeElement && document.activeElement.closest(".line");
  const focusKey = focused ? [focused.dataset.id, document.activeElement.dataset.role] : null;
  list.replaceChildren(...(priced ? priced.lines : []).map((l) => {
    const li = el("li", { class: `line${l.id === flashId ? " flash" : ""}`, dataset: { id: l.id } },
      el("div", {}, el("div", { class: "l-name" }, l.name),
        el("div", { class: "l-meta" }, `${l.qty} × ${l.unit_text}`, l.sku ? ` · ${l.sku}` : "",
          l.stock_text ? ` · ${l.stock_text}` : "", l.confirmed ? " · beyond stock (confirmed)" : "")),
      el("div", { class: "l-amount" }, l.amount_text),
      el("div", { class: "l-ctl" },
        el("button", { class: "qty-btn", type: "button", "aria-label": `One less ${l.name}`, dataset: { role: "minus" },
          onclick: () => l.qty > 1 ? enqueue({ kind: "set", id: l.id, qty: l.qty - 1 }) : removeLine(l.id) }, "−"),
        el("input", { class: "qty", type: "number", min: "1", max: "9999", value: l.qty, inputmode: "numeric",
          "aria-label": `Quantity of ${l.name}`, dataset: { role: "qty" },
          onchange: (e) => {
            const n = Number(e.target.value);
            if (Number.isInteger(n) && n >= 1 && n <= 9999) enqueue({ kind: "set", id: l.id, qty: n });
            else { toast("Quantity must be a whole number from 1 to 9999", "bad"); e.target.value = l.qty; }
          },
          onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); e.target.blur(); focusScan(); } } }),
        el("button", { class: "qty-btn", type: "button", "aria-label": `One more ${l.name}`, dataset: { role: "plus" },
          onclick: () => enqueue({ kind: "add", id: l.id, qty: 1 }) }, "+"),
        el("button", { class: "remove", type: "button", "aria-label": `Remove ${l.name}`, dataset: { role: "remove" },
          onclick: () => removeLine(l.id) }, "Remove")));
    return li;
  }));
  if (focusKey) {
    const again = list.querySelector(`.line[data-id="${focusKey[0]}"] [data-role="${focusKey[1]}"]`);
    if (again) again.focus(); else focusScan();
  }
  const t = priced && priced.totals;
  const count = t ? t.items : 0;
  $("cart-count").textContent = count ? `· ${count} item${count === 1 ? "" : "s"}` : "";
  $("cart-empty").hidden = count > 0;
  $("clear-cart").disabled = count === 0;
  const dl = $("totals");
  dl.replaceChildren();
  if (t && count) {
    const row = (label, value, cls = "") => dl.append(el("dt", { class: cls }, label), el("dd", { class: cls }, value));
    if (!t.prices_include_tax) row("Subtotal", t.subtotal_text);
    for (const tax of t.taxes) row(t.prices_include_tax ? `incl. ${tax.label}` : tax.label, tax.amount_text);
    row("Total", t.total_text, "grand");
  }
  const last = list.lastElementChild;
  if (last && flashId) last.scrollIntoView({ block: "nearest" });
  updatePay();
}

function removeLine(id) {
  cart.lines = cart.lines.filter((l) => l.id !== id);
  enqueue(null);
  focusScan();
}

function clearCart() {
  if (!cart.lines.length) return;
  cart = { lines: [], key: null };
  save();
  enqueue(null);
  toast("Sale cleared");
  focusScan();
}

function cardReason() {
  // The till's own reader needs Stripe, not the store: the server says whether it answers.
  if (terminal) return cardUnavailable();
  const s = live.status;
  if (boot.card.kind !== "manual" && !s) return "";
  if (!s || s.state === "online") return "";
  if (s.state === "offline") return "Card needs the internet: the store is offline. Take cash.";
  return "Card needs the store, which is not answering properly. Take cash.";
}

function updatePay() {
  const has = !!(priced && priced.totals.items > 0);
  $("pay-cash").disabled = !has || busy;
  const why = cardReason();
  $("pay-card").disabled = !has || busy || !!why;
  $("card-why").hidden = !why;
  $("card-why").textContent = why;
}

// --- payment ---------------------------------------------------------------------
function quickAmounts(total) {
  const unit = 10 ** (boot.money.decimals ?? 2);
  const out = new Set();
  for (const note of boot.money.notes || [5, 10, 20, 50]) {
    const step = note * unit;
    const v = Math.ceil(total / step) * step;
    if (v > total) out.add(v);
  }
  return [...out].sort((a, b) => a - b).slice(0, 3);
}

function openPay(method) {
  if (!priced || !priced.totals.items || busy) return;
  if (method === "card" && cardReason()) { toast(cardReason(), "bad"); return; }
  if (method === "card" && terminal) { startCard(); return; }
  payMethod = method;
  const total = toMinor(priced.totals.total);
  $("pay-title").textContent = method === "cash" ? "Cash payment" : `${boot.card.label} payment`;
  $("pay-total").textContent = priced.totals.total_text;
  $("cash-fields").hidden = method !== "cash";
  $("card-fields").hidden = method !== "card";
  $("pay-error").hidden = true;
  $("tendered").value = "";
  $("tendered").placeholder = fromMinor(total);
  $("quick").replaceChildren(
    el("button", { class: "btn", type: "button", onclick: () => setTendered(total) }, "Exact"),
    ...quickAmounts(total).map((v) => el("button", { class: "btn", type: "button", onclick: () => setTendered(v) }, money(v))));
  for (const id of ["card-ref", "card-last4"]) $(id).value = "";
  $("card-brand").value = "";
  updateChange();
  openDialog($("pay-dialog"));
  (method === "cash" ? $("tendered") : $("card-ref")).focus();
}

function setTendered(minor) {
  $("tendered").value = fromMinor(minor);
  updateChange();
  $("pay-submit").focus();
}

function updateChange() {
  const line = $("change-line");
  const total = toMinor(priced ? priced.totals.total : "0");
  if (payMethod !== "cash") { $("pay-submit").disabled = paying; return; }
  const typed = $("tendered").value.trim();
  const given = typed === "" ? total : toMinor(typed);
  line.className = "change-line";
  if (given === null) {
    line.textContent = "Type an amount like 20 or 20.50";
    line.classList.add("short");
  } else if (given < total) {
    line.textContent = `${money(total - given)} more needed`;
    line.classList.add("short");
  } else {
    line.textContent = `Change due ${money(given - total)}`;
  }
  $("pay-submit").disabled = paying || given === null || given < total;
}

async function pay(e) {
  e.preventDefault();
  if (paying || !priced) return;
  const payment = { method: payMethod };
  if (payMethod === "cash") {
    const typed = $("tendered").value.trim();
    if (typed) payment.tendered = typed.replace(",", ".");
  } else {
    payment.reference = $("card-ref").value.trim();
    payment.brand = $("card-brand").value;
    payment.last4 = $("card-last4").value.trim();
  }
  if (!cart.key) cart.key = newKey();
  save();
  paying = true;
  $("pay-submit").disabled = true;
  $("pay-submit").textContent = "Recording…";
  try {
    const sale = await api("/api/sales", { method: "POST", body: {
      sale_key: cart.key, lines: cart.lines, payment, expected_total: priced.totals.total } });
    cart = { lines: [], key: null };
    priced = null;
    save();
    renderCart();
    $("pay-dialog").close();
    showReceipt(sale, true);
    reloadGrid();
  } catch (err) {
    if (err.body && err.body.cart) {
      priced = { ...err.body.cart, problem: null, dropped: [] };
      renderCart();
    }
    showError($("pay-error"), err);
    if (err.kind === "key_reused") {
      $("pay-error").append(el("button", { class: "btn small", type: "button", onclick: async () => {
        $("pay-dialog").close();
        showReceipt(await api(`/api/orders/${cart.key}`), false);
        cart = { lines: [], key: null }; save(); enqueue(null);
      } }, "Show the recorded sale"));
    }
  } finally {
    paying = false;
    $("pay-submit").innerHTML = "Complete sale <kbd>Enter</kbd>";
    updateChange();
  }
}

let shown = null; // the order in the receipt dialog

export function showReceipt(sale, justPaid) {
  shown = sale;
  const banner = $("receipt-paid");
  banner.hidden = !justPaid;
  if (justPaid) {
    banner.replaceChildren(`Paid ${sale.total_text} · ${sale.payment_title}${sale.card ? ` (${sale.card})` : ""}`,
      sale.change_text ? el("span", { class: "big" }, `Change ${sale.change_text}`) : "");
  }
  $("receipt").replaceChildren(...renderReceipt(sale));
  $("order-extra").replaceChildren();
  $("receipt-close").innerHTML = justPaid ? "New sale <kbd>Enter</kbd>" : "Close <kbd>Enter</kbd>";
  const d = $("receipt-dialog");
  d.returnValue = "";
  d.onclose = () => focusScan();
  openDialog(d);
  $("receipt-close").focus();
}

// --- variations --------------------------------------------------------------------
async function pickVariation(product) {
  if (typeof product === "number") product = await api(`/api/products/${product}/variations`);
  $("variation-title").textContent = `Choose: ${product.name}`;
  const opts = product.variations.map((v) => el("button", {
    class: `tile${v.stock_state === "out" ? " out" : ""}`, type: "submit", value: String(v.id) },
  el("span", { class: "t-name" }, v.option), el("span", { class: "t-sku" }, v.sku),
  el("span", { class: "t-foot" }, el("span", { class: "t-price" }, v.price_text),
    el("span", { class: `stock ${v.stock_state}` }, v.stock_text))));
  $("variation-options").replaceChildren(...(opts.length ? opts : [el("p", {}, "No option of this product is for sale.")]));
  const d = $("variation-dialog");
  d.returnValue = "";
  d.onclose = () => {
    const id = Number(d.returnValue);
    if (id) enqueue({ kind: "add", id, qty: 1 });
    focusScan();
  };
  openDialog(d);
  const first = $("variation-options").querySelector("button");
  if (first) first.focus();
}

// --- grid ---------------------------------------------------------------------------
function tile(t) {
  return el("button", { class: `tile${t.stock_state === "out" ? " out" : ""}`, type: "button", dataset: { id: t.id, kind: t.kind } },
  el("span", { class: "t-name" }, t.name),
  el("span", { class: "t-sku" }, t.sku || t.barcode),
  t.kind === "variable" ? el("span", { class: "t-opts" }, `${t.options} options ›`) : null,
  el("span", { class: "t-foot" }, el("span", { class: "t-price" }, t.price_text, t.regular_text ? el("span", { class: "t-was" }, t.regular_text) : null),
    el("span", { class: `stock ${t.stock_state}` }, t.stock_text)));
}

async function loadGrid(append = false) {
  const q = view.q;
  const params = q ? `q=${encodeURIComponent(q)}` : `offset=${view.offset}${view.category ? `&category=${view.category}` : ""}`;
  let page;
  try { page = await api(`/api/products?${params}`); } catch (err) { toast(err.message, "bad"); return; }
  if (q !== view.q) return; // typed on meanwhile
  const key = JSON.stringify([view, page.tiles]);
  if (!append && key === lastGrid) return;
  lastGrid = key;
  const grid = $("grid");
  const focusedId = document.activeElement && document.activeElement.closest(".grid .tile") ? document.activeElement.dataset.id : null;
  const tiles = page.tiles.map(tile);
  if (append) grid.append(...tiles);
  else grid.replaceChildren(...(tiles.length ? tiles : [el("p", { class: "grid-note" }, q ? `Nothing matches “${q}”.` : "No products in this category.")]));
  $("more").hidden = !page.more;
  if (focusedId) { const again = grid.querySelector(`.tile[data-id="${focusedId}"]`); if (again) again.focus(); }
}

function reloadGrid() { lastGrid = ""; loadGrid(); }

async function loadCategories() {
  let data;
  try { data = await api("/api/categories"); } catch { return; }
  const make = (id, name) => el("button", { type: "button", "aria-pressed": String(view.category === id), dataset: { id: id ?? "" },
    onclick: () => { view = { category: id, q: "", offset: 0 }; scan().value = ""; paintCats(); loadGrid(); } }, name);
  $("cats").replaceChildren(make(null, "All"), ...data.categories.map((c) => make(c.id, c.name)));
}

function paintCats() {
  for (const b of $("cats").children) b.setAttribute("aria-pressed", String(String(view.category ?? "") === b.dataset.id));
}

// --- keyboard ------------------------------------------------------------------------
const TEXTY = new Set(["INPUT", "SELECT", "TEXTAREA"]);

export function sellKey(e) {
  if (document.querySelector("dialog[open]")) return;
  if (e.key === "F1") { e.preventDefault(); focusScan(); return; }
  if (e.key === "F2") { e.preventDefault(); openPay("cash"); return; }
  if (e.key === "F3") { e.preventDefault(); openPay("card"); return; }
  if (e.key === "Delete" && e.ctrlKey) { e.preventDefault(); clearCart(); return; }
  const t = document.activeElement;
  // A scanner (or a cashier) typing while focus is on a button: the
  // characters belong in the scan field, and Enter must not press the button.
  if (!TEXTY.has(t && t.tagName) && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
    e.preventDefault();
    scan().focus();
    scan().value += e.key;
    onSearchInput();
  }
}

function onScanKey(e) {
  if (e.key === "Enter") {
    e.preventDefault();
    const code = scan().value.trim();
    scan().value = "";
    clearTimeout(searchTimer);
    if (view.q) { view.q = ""; loadGrid(); }
    if (code) enqueue({ kind: "scan", code });
  } else if (e.key === "ArrowDown") {
    const first = $("grid").querySelector(".tile");
    if (first) { e.preventDefault(); first.focus(); }
  } else if (e.key === "Escape" && scan().value) {
    scan().value = "";
    onSearchInput();
  }
}

function onSearchInput() {
  clearTimeout(searchTimer);
  const q = scan().value.trim();
  searchTimer = setTimeout(() => {
    if (q.length >= 2 && !/^\d{8,}$/.test(q)) { view = { ...view, q, offset: 0 }; loadGrid(); }
    else if (!q && view.q) { view = { ...view, q: "" }; loadGrid(); }
  }, 180);
}

function gridKeys(e) {
  const tiles = [...$("grid").querySelectorAll(".tile")];
  const i = tiles.indexOf(document.activeElement);
  if (i < 0) return;
  const cols = Math.max(1, Math.round($("grid").clientWidth / tiles[0].offsetWidth));
  const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
  if (move === undefined) return;
  e.preventDefault();
  if (i + move < 0) { focusScan(); return; }
  const next = tiles[Math.min(tiles.length - 1, i + move)];
  if (next) next.focus();
}

function cardHooks() {
  return {
    sale: () => {
      if (!priced || !priced.totals.items || busy) return null;
      if (!cart.key) cart.key = newKey();
      save();
      return { sale_key: cart.key, lines: cart.lines, expected_total: priced.totals.total, total_text: priced.totals.total_text };
    },
    paid: (view, ownCart) => {
      if (ownCart || cart.key === view.sale_uuid) {
        cart = { lines: [], key: null };
        priced = null;
        save();
        renderCart();
        reloadGrid();
      }
      showReceipt(view.receipt, true);
    },
    ownsSale: (uuid) => !!cart.key && cart.key === uuid,
    repriced: (c) => { priced = { ...c, problem: null, dropped: [] }; renderCart(); },
    cash: () => openPay("cash"),
    closed: () => focusScan(),
    changed: () => updatePay(),
  };
}

export function initSell() {
  load();
  initCard(cardHooks());
  scan().addEventListener("keydown", onScanKey);
  scan().addEventListener("input", onSearchInput);
  $("grid").addEventListener("keydown", gridKeys);
  $("grid").addEventListener("click", (e) => {
    const t = e.target.closest(".tile");
    if (!t) return;
    if (t.dataset.kind === "variable") pickVariation(Number(t.dataset.id)).catch((err) => toast(err.message, "bad"));
    else enqueue({ kind: "add", id: Number(t.dataset.id), qty: 1 });
  });
  $("more").addEventListener("click", () => { view.offset += 60; loadGrid(true); });
  $("clear-cart").addEventListener("click", clearCart);
  $("pay-cash").addEventListener("click", () => openPay("cash"));
  $("pay-card").addEventListener("click", () => openPay("card"));
  $("pay-form").addEventListener("submit", pay);
  $("receipt-print").addEventListener("click", () => { if (shown) printReceipt(shown); });
  $("receipt-dialog").addEventListener("keydown", (e) => {
    if (e.key.toLowerCase() === "p" && !e.ctrlKey && !e.metaKey && shown) { e.preventDefault(); printReceipt(shown); }
  });
  $("pay-dialog").addEventListener("close", () => focusScan());
  $("tendered").addEventListener("input", updateChange);
  document.addEventListener("click", (e) => {
    // Keep the scan field ready: a click on nothing in particular gives it focus back.
    if (!$("screen-sell").hidden && !e.target.closest("button, input, select, a, dialog, label")) focusScan();
  });
  let synced = null;
  let pending = null;
  onStatus((s) => {
    updatePay();
    // A receipt on screen learns its WooCommerce order number once the upload is done.
    if (shown && !shown.number && $("receipt-dialog").open) {
      const uuid = shown.uuid;
      api(`/api/orders/${uuid}`).then((o) => {
        if (!o.number || !shown || shown.uuid !== uuid) return;
        shown = { ...o, change_text: shown.change_text };
        $("receipt").replaceChildren(...renderReceipt(shown));
      }).catch(() => {});
    }
    if (!s.initial_sync_done) return;
    if (!$("cats").children.length) { loadCategories(); reloadGrid(); }
    if (s.last_sync_at !== synced || s.pending_orders !== pending) {
      if (synced !== null) loadGrid();
      synced = s.last_sync_at;
      pending = s.pending_orders;
    }
  });
  if (cart.lines.length) enqueue(null);
  renderCart();
}
