// The Card button on the till's Stripe reader (boot.card.kind === "terminal").
//
// Card hands the sale to the reader and shows what the reader is doing until
// Stripe says how it ended: paid -> the receipt; declined, timed out, reader
// offline or busy, cancelled -> the reason in plain words, the cart kept, and
// "Try again" or "Pay cash". A payment a restart left on the reader shows
// above the pay buttons, to resume or cancel. The server decides everything;
// this module only asks and shows.
import { $, api, boot, el, money, onStatus, openDialog, toMinor, toast } from "./core.js";

export const terminal = boot.card.kind === "terminal";
const state = { available: null, reason: "", inProgress: [], testCards: [] };
let hooks = null; // { sale(), paid(view, ownCart), cash(), changed() }
let watching = null; // the payment shown in the dialog
let timer = null;
let lastRefresh = 0;

// Why the Card button is off ("" when it is on). Unknown yet counts as on: the
// start says why if it cannot.
export function cardUnavailable() {
  return state.available === false ? (state.reason || "Card payments are not available now.") : "";
}

export async function refreshCard() {
  if (!terminal) return;
  lastRefresh = Date.now();
  try {
    const a = await api("/api/card");
    state.available = a.available;
    state.reason = a.reason || "";
    state.inProgress = a.in_progress || [];
    if (a.test_cards && !state.testCards.length) { state.testCards = a.test_cards; paintTestCards(); }
  } catch (err) {
    if (err.status === 0) return; // the engine restarts: keep what we knew
    state.available = false;
    state.reason = err.message;
  }
  paintPending();
  hooks.changed();
}

// --- the dialog ------------------------------------------------------------------
function show({ text = "", reason = "", running = false, retry = false, cash = false, resume = false, abandon = false }) {
  $("card-reader").textContent = text;
  $("card-reader").hidden = !text;
  const box = $("card-error");
  box.hidden = !reason;
  box.textContent = reason;
  $("card-stop").hidden = !running;
  $("card-retry").hidden = !retry;
  $("card-cash").hidden = !cash;
  $("card-resume").hidden = !resume;
  $("card-abandon").hidden = !abandon;
  $("card-close").hidden = running;
  const first = ["card-retry", "card-resume", "card-stop", "card-close"].map($).find((b) => !b.hidden);
  const d = $("card-dialog");
  if (first && d.open && !d.contains(document.activeElement)) first.focus();
  if (first && d.open && document.activeElement && document.activeElement.hidden) first.focus();
}

function openCard(totalText) {
  $("card-total").textContent = totalText;
  const d = $("card-dialog");
  d.returnValue = "";
  openDialog(d);
}

export async function startCard() {
  const sale = hooks.sale();
  if (!sale) return;
  clearTimeout(timer);
  watching = null;
  openCard(sale.total_text);
  show({ text: "Sending the payment to the card reader…", running: false });
  $("card-close").hidden = true;
  try {
    const body = { sale_key: sale.sale_key, lines: sale.lines, expected_total: sale.expected_total };
    const pick = $("demo-card");
    if (state.testCards.length && pick && pick.value) body.test_card = pick.value;
    const view = await api("/api/card/payments", { method: "POST", body });
    for (const s of view.settled_before || []) {
      if (s.paid) toast(`An earlier card payment turned out paid: its sale is recorded (${s.sale_uuid.slice(0, 8)}).`, "bad");
    }
    follow(view, true);
  } catch (err) {
    if (err.body && err.body.cart) hooks.repriced(err.body.cart);
    show({ reason: err.message, retry: err.kind !== "stock" && err.kind !== "cart_changed", cash: true });
  }
}

function follow(view, ownCart) {
  watching = { id: view.id, ownCart };
  if (view.paid) { finish(view); return; }
  if (view.running) {
    show({ text: readerText(view), running: true });
    timer = setTimeout(poll, 400);
  } else if (view.unsettled) {
    show({ text: "", reason: view.reason || "It is not known yet whether the card was charged.", resume: true, abandon: true });
  } else {
    show({ text: "", reason: view.reason || "The card was not charged.", retry: ownCart, cash: ownCart });
    refreshCard();
  }
}

function readerText(view) {
  const t = view.reader_text || "";
  if (!t) return "Sending the payment to the card reader…";
  return t.charAt(0).toUpperCase() + t.slice(1) + (t.startsWith("waiting") ? "…" : "");
}

async function poll() {
  if (!watching || !watching.id) return;
  try {
    follow(await api(`/api/card/payments/${watching.id}`), watching.ownCart);
  } catch (err) {
    if (err.status === 0) { timer = setTimeout(poll, 1000); return; } // the engine restarts
    show({ reason: err.message, retry: watching.ownCart, cash: watching.ownCart });
  }
}

function finish(view) {
  clearTimeout(timer);
  const own = watching ? watching.ownCart : false;
  watching = null;
  $("card-dialog").close("paid");
  hooks.paid(view, own);
  refreshCard();
}

async function act(action) {
  if (!watching || !watching.id) return;
  clearTimeout(timer);
  const what = { cancel: "Stopping the reader…", abandon: "Cancelling the payment…", resume: "Asking Stripe…" }[action];
  show({ text: what });
  $("card-close").hidden = true;
  try {
    const view = await api(`/api/card/payments/${watching.id}/${action}`, { method: "POST", body: {} });
    if (action === "abandon" && !view.paid) {
      show({ reason: view.reason || "The payment was cancelled; the card was not charged.", retry: watching.ownCart, cash: watching.ownCart });
      refreshCard();
      return;
    }
    follow(view, watching.ownCart);
  } catch (err) {
    show({ reason: err.message, resume: action !== "cancel", abandon: true });
  }
}

// --- a payment left on the reader (after a restart, or another device) ----------
function paintPending() {
  const box = $("card-pending");
  const left = state.inProgress.filter((p) => !watching || p.id !== watching.id);
  box.hidden = !left.length;
  if (!left.length) return;
  const p = left[0];
  const minor = toMinor(p.total);
  const amount = minor === null ? p.total : money(minor);
  box.replaceChildren(
    el("p", {}, el("strong", {}, "Card payment in progress: "),
      `${amount} was handed to the card reader and the till has not heard how it ended.`,
      p.running ? " It is running now." : " Resume to find out (and record it if it was paid), or cancel it."),
    el("div", { class: "pending-actions" },
      el("button", { class: "btn small primary", type: "button", onclick: () => resumeLeft(p) }, p.running ? "Show" : "Resume"),
      p.running ? null : el("button", { class: "btn small", type: "button", onclick: () => abandonLeft(p) }, "Cancel it")));
}

async function resumeLeft(p) {
  const own = hooks.ownsSale(p.sale_uuid);
  const minor = toMinor(p.total);
  watching = { id: p.id, ownCart: own };
  openCard(minor === null ? p.total : money(minor));
  paintPending();
  if (p.running) { follow(p, own); return; }
  await act("resume");
}

async function abandonLeft(p) {
  watching = { id: p.id, ownCart: hooks.ownsSale(p.sale_uuid) };
  const minor = toMinor(p.total);
  openCard(minor === null ? p.total : money(minor));
  await act("abandon");
}

function paintTestCards() {
  const pick = $("demo-card");
  if (!pick || !boot.demo) return;
  pick.replaceChildren(...state.testCards.map((c) => el("option", { value: c.name }, c.label)));
  $("demo-card-row").hidden = false;
}

export function initCard(h) {
  hooks = h;
  if (!terminal) return;
  $("card-stop").addEventListener("click", () => act("cancel"));
  $("card-resume").addEventListener("click", () => act("resume"));
  $("card-abandon").addEventListener("click", () => act("abandon"));
  $("card-retry").addEventListener("click", () => startCard());
  $("card-cash").addEventListener("click", () => { $("card-dialog").close("cash"); hooks.cash(); });
  $("card-dialog").addEventListener("cancel", (e) => {
    // Esc: stop the reader first; the dialog closes once nothing runs.
    if (!$("card-stop").hidden) { e.preventDefault(); act("cancel"); }
    else if ($("card-close").hidden) e.preventDefault();
  });
  $("card-dialog").addEventListener("close", () => {
    clearTimeout(timer);
    watching = null;
    paintPending();
    if ($("card-dialog").returnValue !== "cash") hooks.closed();
  });
  let was = null;
  onStatus((s) => {
    // Back from a restart or a network change: ask again at once, else every 10 s.
    if (s.state !== was || Date.now() - lastRefresh > 10000) { was = s.state; refreshCard(); }
  });
  setInterval(() => { if (Date.now() - lastRefresh > 10000) refreshCard(); }, 5000);
  refreshCard();
}
