// Shared helpers of the till screen: boot data, the JSON API, DOM building, money, toasts.

export const boot = JSON.parse(document.getElementById("boot").textContent);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the till answered HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.kind = this.body.error || "http";
  }
}

async function refreshSession() {
  const r = await fetch("/api/session", { headers: { accept: "application/json" } });
  if (r.status === 401) { location.href = "/login"; return; }
  if (r.ok) Object.assign(boot, await r.json());
}

// Every state-changing call sends the page's CSRF token; a stale token (the
// engine restarted in loopback mode) is refreshed once, then the call retried.
export async function api(path, { method = "GET", body, retried = false } = {}) {
  const headers = { accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") headers["x-csrf-token"] = boot.csrf;
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: "network", message: "the till screen lost its connection to the till; retrying may help" });
  }
  let data = null;
  const text = await r.text();
  if (text) { try { data = JSON.parse(text); } catch { data = { message: text.slice(0, 200) }; } }
  if (r.status === 401 && boot.lan) { location.href = "/login"; throw new ApiError(401, data); }
  if (r.status === 403 && data && data.error === "csrf" && !retried && method !== "GET") {
    await refreshSession();
    return api(path, { method, body, retried: true });
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

// Money: integer minor units in the browser, formatted as the store formats it.
export function toMinor(text) {
  const d = boot.money.decimals ?? 2;
  const s = String(text ?? "").trim().replace(",", ".");
  if (!/^\d{0,9}(\.\d*)?$/.test(s) || s === "" || s === ".") return null;
  const [whole, frac = ""] = s.split(".");
  if (frac.length > d) return null;
  return Number(whole || "0") * 10 ** d + Number((frac + "0".repeat(d)).slice(0, d) || "0");
}

export function fromMinor(minor) {
  const d = boot.money.decimals ?? 2;
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  const whole = Math.floor(abs / 10 ** d);
  const frac = String(abs % 10 ** d).padStart(d, "0");
  return sign + whole + (d ? "." + frac : "");
}

export function money(minor) {
  const m = boot.money;
  const d = m.decimals ?? 2;
  const abs = Math.abs(minor);
  let whole = String(Math.floor(abs / 10 ** d)).replace(/\B(?=(\d{3})+(?!\d))/g, m.thousand ?? ",");
  const num = whole + (d ? (m.decimal || ".") + String(abs % 10 ** d).padStart(d, "0") : "");
  const sym = m.symbol || m.code || "";
  const sign = minor < 0 ? "-" : "";
  switch (m.position) {
    case "right": return sign + num + sym;
    case "right_space": return sign + num + "\u00a0" + sym;
    case "left_space": return sign + sym + "\u00a0" + num;
    default: return sign + sym + num;
  }
}

export function toast(text, kind = "") {
  const box = $("toasts");
  const t = el("div", { class: `toast ${kind}`, role: kind === "bad" ? "alert" : "status" }, text);
  box.append(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === "bad" ? 7000 : 4000);
}

export function showError(box, err) {
  box.hidden = false;
  box.replaceChildren(err.message || String(err));
  if (err.body && err.body.hint) box.append(el("span", { class: "hint" }, err.body.hint));
}

// A sale key: a random version-4 UUID (crypto.randomUUID needs a secure
// context, which a LAN address over http is not).
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function openDialog(d) {
  if (!d.open) d.showModal();
}

// The live status, as the status bar and the screens read it.
export const live = { status: null, listeners: [] };
export function onStatus(fn) { live.listeners.push(fn); if (live.status) fn(live.status); }
