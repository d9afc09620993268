// The till screen: screens, the live status bar (Server-Sent Events), keyboard shortcuts.
import { $, boot, live } from "./core.js";
import { initSell, focusScan, sellKey } from "./sell.js";
import { initOrders, showOrders, showAttention } from "./orders.js";
import { initSetup, showSync } from "./setup.js";

const SCREENS = ["setup", "sync", "sell", "orders", "attention"];
let current = null;

function wanted() {
  const s = live.status;
  if (!boot.connected && !(s && s.connected)) return "setup";
  if (s && !s.initial_sync_done) return "sync";
  const h = location.hash.replace("#", "");
  return ["sell", "orders", "attention"].includes(h) ? h : "sell";
}

function route() {
  const name = wanted();
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  document.querySelectorAll(".tabs a").forEach((a) => {
    if (a.dataset.screen === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  document.querySelector(".tabs").hidden = name === "setup" || name === "sync";
  const changed = current !== name;
  current = name;
  if (changed && name === "sell") focusScan();
  if (changed && name === "orders") showOrders();
  if (changed && name === "attention") showAttention();
  if (name === "sync") showSync();
}

// --- status bar ----------------------------------------------------------
const WORDS = { online: "Online", offline: "Offline", degraded: "Degraded", reconnecting: "Reconnecting…" };
let syncedBase = null; // [seconds ago, performance.now() when received]

function ago(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function tickSynced() {
  const el = $("st-synced");
  if (!syncedBase) { el.textContent = "never synced"; return; }
  const [base, at] = syncedBase;
  el.textContent = `synced ${ago(base + (performance.now() - at) / 1000)}`;
}

function paint(s, state = s.state) {
  const bar = $("statusbar");
  bar.dataset.state = state;
  $("st-state").textContent = WORDS[state] || state;
  $("st-pending").textContent = `${s.pending_orders ?? 0} pending`;
  syncedBase = s.synced_ago_s == null ? null : [s.synced_ago_s, performance.now()];
  tickSynced();
  const failed = s.attention_orders ?? s.failed_orders ?? 0;
  $("st-failed").hidden = failed === 0;
  $("st-failed").textContent = `${failed} need${failed === 1 ? "s" : ""} attention`;
  $("attention-badge").hidden = failed === 0 && !s.queue_paused;
  $("attention-badge").textContent = s.queue_paused ? "!" : String(failed);
  $("st-plugin").textContent = s.plugin ? "plugin ✓" : "no plugin";
  $("st-plugin").title = s.plugin
    ? `OneTill companion plugin ${s.plugin_version || ""} active on the store: one request per idle poll, uploads by key`
    : "The optional OneTill companion plugin is not active on the store: plain WooCommerce polling";
  const reason = $("st-reason");
  let text = "";
  if (state === "reconnecting") text = "The till screen lost touch with the till; reconnecting by itself.";
  else if (s.queue_paused) text = "Uploads are paused: WooCommerce rejected the keys. See Needs attention.";
  else if (state !== "online" && s.connected && s.state_reason) text = `${WORDS[state]}: ${s.state_reason}. Cash sales keep working and upload later.`;
  reason.hidden = !text;
  reason.textContent = text;
  reason.className = `reason ${state === "offline" ? "offline" : ""}`;
}

function connectEvents() {
  let source = null;
  let failures = 0;
  const open = () => {
    source = new EventSource("/api/events");
    source.addEventListener("status", (e) => {
      failures = 0;
      const s = JSON.parse(e.data);
      live.status = s;
      if (s.connected) boot.connected = true;
      paint(s);
      for (const fn of live.listeners) fn(s);
      route();
    });
    source.onerror = () => {
      failures += 1;
      if (live.status) paint(live.status, "reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the engine answered an error): try again ourselves.
        setTimeout(open, Math.min(5000, 500 * failures));
        if (boot.lan && failures > 2) fetch("/api/session").then((r) => { if (r.status === 401) location.href = "/login"; });
      }
    };
  };
  open();
  setInterval(tickSynced, 1000);
}

// --- keyboard --------------------------------------------------------------
function keys(e) {
  if (e.key === "F6") { e.preventDefault(); location.hash = "#sell"; focusScan(); return; }
  if (e.key === "F7") { e.preventDefault(); location.hash = "#orders"; return; }
  if (e.key === "F8") { e.preventDefault(); location.hash = "#attention"; return; }
  if (current === "sell") sellKey(e);
}

initSell();
initOrders();
initSetup(() => route());
window.addEventListener("hashchange", route);
// Cancel buttons close their dialog (not submit buttons: Enter in a field must never cancel).
document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-close]");
  if (b) b.closest("dialog").close("cancel");
});
document.addEventListener("keydown", keys, true);
route();
connectEvents();
