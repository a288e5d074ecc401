// The dashboard: sign-in, then the snipes, groups, history and account pages over the REST API, kept
// live by the WebSocket API.

import config from "../config.js";
import { Api, ApiError } from "./api.js";
import { Auth } from "./auth.js";
import { brandMark, h } from "./format.js";
import { Realtime } from "./realtime.js";
import { Store } from "./store.js";
import { renderAccount } from "./views/account.js";
import { renderGroups } from "./views/groups.js";
import { renderHistory } from "./views/history.js";
import { renderSignIn } from "./views/signin.js";
import { renderSnipes } from "./views/snipes.js";

const EBAY_CALLBACK_KEY = "sniper.ebayCallback";
const ROUTES = {
  "#/snipes": { title: "Snipes", render: renderSnipes },
  "#/groups": { title: "Groups", render: renderGroups },
  "#/history": { title: "History", render: renderHistory },
  "#/account": { title: "Account", render: renderAccount },
};
const CONNECTION_LABELS = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

const apiBaseUrl = (config.apiBaseUrl || "").replace(/\/$/, "");
const auth = new Auth(config, apiBaseUrl);
const api = new Api(apiBaseUrl, auth);
const store = new Store();
const root = document.getElementById("app");

const ctx = {
  config,
  auth,
  api,
  store,
  info: null,
  profile: null,
  realtime: null,
  websocketUrl: null,
  toast,
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  refreshProfile,
  loadSnipes,
  ebayNotice: null,
};

let cleanup = null;

async function boot() {
  try {
    await auth.completeHostedLogin();
  } catch (error) {
    ctx.signInError = error.message;
  }
  if (auth.mode === "local") {
    try {
      const response = await fetch(`${apiBaseUrl}/local/info`);
      if (response.ok) ctx.info = await response.json();
    } catch {
      ctx.info = null;
    }
  }
  ctx.websocketUrl = socketBase();
  auth.onChange((signedIn) => (signedIn ? start() : stop()));
  window.addEventListener("hashchange", route);
  if (auth.signedIn) await start();
  else if (auth.mode === "cognito" && !ctx.signInError) {
    // Deployed: the Hosted UI is the sign-in page. After a failed return the page stays, with
    // the reason and a button, rather than going round again.
    await auth.startHostedLogin().catch((error) => {
      ctx.signInError = error.message;
      stop();
    });
  } else stop();
}

function socketBase() {
  const url = config.websocketUrl || ctx.info?.websocketUrl || null;
  if (!url) return null;
  // The local stack says "localhost"; keep the host the page was opened with (127.0.0.1 or not).
  const parsed = new URL(url);
  const loopback = ["localhost", "127.0.0.1", "[::1]"];
  if (loopback.includes(parsed.hostname) && loopback.includes(location.hostname)) {
    parsed.hostname = location.hostname;
  }
  return parsed.toString().replace(/\/$/, "");
}

let started = false;

async function start() {
  if (started) return;
  started = true;
  renderShell();
  setConnection(ctx.websocketUrl ? "connecting" : "offline");
  try {
    await refreshProfile();
  } catch (error) {
    if (!auth.signedIn) return;
    toast(error.message, "error");
  }
  if (!auth.signedIn) return;
  await finishEbayLink();
  await loadSnipes();
  if (ctx.websocketUrl) {
    ctx.realtime = new Realtime(socketUrl, onMessage, setConnection, showsFinalMinutes);
    ctx.realtime.start();
  }
  if (!ROUTES[location.hash]) history.replaceState(null, "", "#/snipes");
  route();
}

function stop() {
  started = false;
  ctx.realtime?.stop();
  ctx.realtime = null;
  ctx.profile = null;
  store.clear();
  if (cleanup) cleanup();
  cleanup = null;
  document.title = "Sign in · eBay Sniper";
  root.replaceChildren(renderSignIn(ctx));
}

async function socketUrl() {
  const token = await auth.token();
  if (!token || !ctx.websocketUrl) return null;
  const url = new URL(ctx.websocketUrl);
  url.searchParams.set("token", token);
  return url.toString();
}

async function refreshProfile() {
  ctx.profile = await api.get("/users/profile");
  const email = document.getElementById("user-email");
  if (email) email.textContent = ctx.profile.email || auth.email;
  return ctx.profile;
}

const FINISHED = "WON,LOST,CANCELLED,FAILED";
const FINISHED_WANTED = 50;

/** GET /bids's pages of one listing until it ends, `enough` snipes are in, or `pages` pages
 * were read: each page's snipes go into the store. */
async function loadPages(query, { pages, enough = Infinity }) {
  let cursor = null;
  let loaded = 0;
  for (let page = 0; page < pages && loaded < enough; page += 1) {
    const result = await api.get("/bids", { ...query, limit: 100, cursor });
    for (const snipe of result.items || []) store.upsert(snipe.bidId, snipe);
    loaded += (result.items || []).length;
    cursor = result.nextCursor;
    if (!cursor) break;
  }
}

/** Every active snipe (GET /bids's default listing: at most the per-user cap, 200, so two
 * pages), then the latest finished ones, enough for the Finished section, never the whole
 * record; then each active snipe's price history (GET /bids/{bidId} carries it), for the
 * price charts, without waiting. */
async function loadSnipes() {
  await loadPages({}, { pages: 5 });
  await loadPages({ status: FINISHED }, { pages: 3, enough: FINISHED_WANTED });
  for (const snipe of store.active()) {
    api
      .get(`/bids/${encodeURIComponent(snipe.bidId)}`)
      .then((detail) => store.seedPrices(snipe.bidId, detail.priceHistory || []))
      .then(() => store.emit(snipe.bidId, {}))
      .catch(() => {});
  }
}

// A snipe in its auction's last 10 minutes: the dashboard pulls fresh prices for it.
const FINAL_MS = 10 * 60_000;

function showsFinalMinutes() {
  const now = store.now();
  return store.active().some((snipe) => {
    const left = (snipe.auctionEndMs || snipe.auctionEndTime * 1000) - now;
    return left > 0 && left <= FINAL_MS;
  });
}

function onMessage(message) {
  const missing = store.apply(message);
  // Snipes the snapshot no longer lists ended while we were away: read how they ended.
  for (const bidId of missing) {
    api
      .get(`/bids/${encodeURIComponent(bidId)}`)
      .then((snipe) => store.upsert(bidId, snipe))
      .catch(() => {});
  }
}

async function finishEbayLink() {
  const pending = sessionStorage.getItem(EBAY_CALLBACK_KEY);
  if (!pending) return;
  sessionStorage.removeItem(EBAY_CALLBACK_KEY);
  let callback;
  try {
    callback = JSON.parse(pending);
  } catch {
    return;
  }
  history.replaceState(null, "", "#/account");
  if (callback.declined || !callback.code) {
    ctx.ebayNotice = { kind: "error", text: "eBay access was not granted, so nothing was linked." };
    return;
  }
  try {
    const status = await api.post("/ebay/auth/callback", {
      code: callback.code,
      state: callback.state,
    });
    ctx.ebayNotice = { kind: "success", text: `eBay account ${status.accountId || ""} linked.` };
    await refreshProfile();
  } catch (error) {
    const text =
      error instanceof ApiError && error.status === 409
        ? "That eBay account is already linked to another sniper user."
        : `Linking failed: ${error.message}`;
    ctx.ebayNotice = { kind: "error", text };
  }
}

// ---- the shell: header, navigation, connection indicator, toasts

function renderShell() {
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    Object.entries(ROUTES).map(([hash, { title }]) => h("a", { href: hash, "data-route": hash }, title)),
  );
  const connection = h(
    "div",
    { class: "connection", id: "connection", role: "status", "aria-live": "polite", "data-state": "offline" },
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", { class: "connection-label", id: "connection-label" }, "Offline"),
  );
  const user = h(
    "div",
    { class: "user" },
    h("span", { id: "user-email", class: "user-email" }, auth.email),
    h("button", { type: "button", class: "button ghost small", onclick: () => auth.signOut() }, "Sign out"),
  );
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "#/snipes" }, brandMark(), "eBay Sniper"),
    nav,
    connection,
    user,
  );
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const toasts = h("div", { class: "toasts", id: "toasts", "aria-live": "polite" });
  root.replaceChildren(
    h("a", { class: "skip-link", href: "#main", onclick: skipToMain }, "Skip to content"),
    header,
    main,
    toasts,
  );
}

function skipToMain(event) {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

function setConnection(state) {
  const element = document.getElementById("connection");
  if (!element) return;
  element.dataset.state = state;
  const label = ctx.websocketUrl ? CONNECTION_LABELS[state] : "Offline (no realtime server)";
  document.getElementById("connection-label").textContent = label;
  element.title =
    state === "live"
      ? "Changes arrive as they happen"
      : state === "reconnecting"
        ? "The live connection dropped; reconnecting and catching up"
        : "";
}

function route() {
  if (!auth.signedIn) return;
  const hash = ROUTES[location.hash] ? location.hash : "#/snipes";
  const { title, render } = ROUTES[hash];
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.route === hash) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${title} · eBay Sniper`;
  if (cleanup) cleanup();
  cleanup = null;
  const main = document.getElementById("main");
  if (!main) return;
  main.replaceChildren();
  cleanup = render(ctx, main) || null;
}

function toast(text, kind = "info") {
  const container = document.getElementById("toasts");
  if (!container) return;
  const item = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  container.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 10_000 : 5_000);
}

boot();
