// First run (connect a store), the initial sync's progress, and the demo panel.
import { $, api, boot, el, live, onStatus, showError, toast } from "./core.js";

const NAMES = { products: "products", variations: "variations", tax_rates: "tax rates", tax_classes: "tax classes",
  categories: "categories", settings_general: "store settings", settings_tax: "tax settings" };
const samples = {}; // resource -> [[time, done], ...] over the last seconds, for rate and time left
let onChange = () => {};

function fmtNum(n) { return Number(n).toLocaleString("en-US"); }

function left(seconds) {
  if (!isFinite(seconds)) return "";
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

export function showSync() {
  const s = live.status;
  if (!s) return;
  const list = $("sync-list");
  const now = performance.now();
  const items = (s.progress || []).map((p) => {
    const hist = (samples[p.resource] = (samples[p.resource] || []).filter(([t]) => now - t < 8000));
    if (!hist.length || hist[hist.length - 1][1] !== p.done) hist.push([now, p.done]);
    let rate = "";
    if (hist.length > 1 && !p.finished) {
      const [t0, d0] = hist[0];
      const perS = (p.done - d0) / ((now - t0) / 1000);
      if (perS > 0) rate = `${fmtNum(Math.round(perS))}/s${p.total ? `, ${left((p.total - p.done) / perS)}` : ""}`;
    }
    const name = NAMES[p.resource] || p.resource;
    const label = p.total != null ? `${fmtNum(p.done)} of ${fmtNum(p.total)} ${name}` : `${fmtNum(p.done)} ${name}`;
    return el("li", {},
      el("div", { class: "p-head" }, el("span", { id: `p-${p.resource}` }, label),
        el("span", { class: "p-rate" }, p.finished ? "done ✓" : rate)),
      el("progress", { max: String(p.total || 1), value: String(p.finished ? p.total || 1 : p.done), "aria-labelledby": `p-${p.resource}` }));
  });
  list.replaceChildren(...(items.length ? items : [el("li", {}, "Starting…")]));
  $("sync-note").textContent = s.state !== "online" && s.state_reason ? `The store: ${s.state_reason}. The sync resumes by itself.` : "";
}

async function connect(e) {
  e.preventDefault();
  const box = $("connect-error");
  box.hidden = true;
  const button = $("connect-submit");
  const file = $("c-ca").files[0];
  const body = { url: $("c-url").value.trim(), key: $("c-key").value.trim(), secret: $("c-secret").value };
  if (!body.url || !body.key || !body.secret) {
    showError(box, new Error("Fill in the store address, the consumer key and the consumer secret."));
    return;
  }
  if (file) body.ca_pem = await file.text();
  button.disabled = true;
  button.textContent = "Checking the store…";
  try {
    const r = await api("/api/setup/connect", { method: "POST", body });
    $("c-secret").value = "";
    boot.connected = true;
    for (const w of r.store.warnings || []) toast(w, "bad");
    toast(`Connected to ${r.store.name || r.store.url}`, "ok");
    onChange();
  } catch (err) {
    showError(box, err);
  } finally {
    button.disabled = false;
    button.textContent = "Check and connect";
  }
}

function initDemo() {
  if (!boot.demo) return;
  const panel = $("demo-panel");
  panel.hidden = false;
  const storeBtn = $("demo-store");
  onStatus((s) => {
    storeBtn.textContent = s.demo_store_online === false ? "Bring the store back online" : "Take the store offline";
    $("demo-order").disabled = s.demo_store_online === false;
  });
  storeBtn.addEventListener("click", async () => {
    const online = !(live.status && live.status.demo_store_online === false);
    storeBtn.disabled = true;
    try {
      await api("/api/demo/store", { method: "POST", body: { online: !online } });
      $("demo-note").textContent = online ? "The store is offline: sell for cash and watch the pending count." : "The store is back: watch the queue drain.";
    } catch (err) { toast(err.message, "bad"); }
    storeBtn.disabled = false;
  });
  $("demo-order").addEventListener("click", async () => {
    try {
      const r = await api("/api/demo/order", { method: "POST", body: {} });
      $("demo-note").textContent = `Online shop sold ${r.quantity} × ${r.name} (store stock now ${r.stock}). The till shows it after its next poll.`;
    } catch (err) { toast(err.message, "bad"); }
  });
}

export function initSetup(changed) {
  onChange = changed;
  $("connect-form").addEventListener("submit", connect);
  onStatus(() => { if (!$("screen-sync").hidden) showSync(); });
  initDemo();
}
