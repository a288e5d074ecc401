// The WebSocket connection (docs/realtime-protocol.md): a `sync` after every (re)connect, a ping
// every few minutes (API Gateway closes idle sockets after 10), a `refreshPrices` while the page
// is visible and shows a snipe in its last 10 minutes (their prices are polled only while
// someone looks): when its answer's `nextInMs` says the next round of those prices may run
// (plus 0-300 ms of jitter, within 1-60 s), or 10 s after the last ask while no answer came,
// reconnection with exponential backoff and jitter, `batch` frames read event by event, and
// duplicate deliveries (same eventId) dropped.

const PING_EVERY_MS = 4 * 60_000;
// Without an answer to the last `refreshPrices` (lost, or none sent yet), the next comes this
// long after it. bench/cost.py's REFRESH_EVERY_SECONDS prices it (tests/unit/test_cost_model.py).
const REFRESH_PRICES_EVERY_MS = 10_000;
const REFRESH_JITTER_MS = 300;
const REFRESH_MIN_MS = 1_000;
const REFRESH_MAX_MS = 60_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const SEEN_LIMIT = 1000;

export class Realtime {
  /**
   * @param {() => Promise<string|null>} urlProvider the socket URL with a fresh token, or null
   * @param {(message: object) => void} onMessage every new server message, once
   * @param {(state: string) => void} onState "connecting" | "live" | "reconnecting" | "offline"
   * @param {() => boolean} wantsPrices whether a snipe in its last 10 minutes is shown
   */
  constructor(urlProvider, onMessage, onState, wantsPrices = () => false) {
    this.urlProvider = urlProvider;
    this.onMessage = onMessage;
    this.onState = onState;
    this.wantsPrices = wantsPrices;
    this.refreshTimer = null;
    this.awaitingPrices = false; // a refreshPrices sent on this socket, its answer not in yet
    this.socket = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.connecting = false; // between asking urlProvider for a URL and the socket's creation
    this.seen = new Set();
    this.seenOrder = [];
    this.state = "offline";
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => {
      if (!this.stopped) this.setState("offline");
    });
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.dropSocket();
    this.setState("offline");
  }

  // Close this page's socket without the retry its close would schedule.
  dropSocket() {
    clearInterval(this.pingTimer);
    this.stopPrices();
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000);
      this.socket = null;
    }
  }

  reconnectNow() {
    if (this.stopped || this.state === "live") return;
    clearTimeout(this.retryTimer);
    // Back online after being offline: the socket kept meanwhile may have died unnoticed.
    if (this.state === "offline") this.dropSocket();
    this.connect();
  }

  send(action) {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ action }));
      return true;
    }
    return false;
  }

  refreshPrices() {
    if (document.visibilityState === "hidden" || !this.wantsPrices()) return false;
    return this.send("refreshPrices");
  }

  // The next `refreshPrices` in `delay` ms; that one, sent or not, sets the fallback after it.
  schedulePrices(delay) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.awaitingPrices = this.refreshPrices();
      this.schedulePrices(REFRESH_PRICES_EVERY_MS);
    }, delay);
  }

  stopPrices() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.awaitingPrices = false;
  }

  // The answer to this socket's last `refreshPrices` (one is asked for at a time, and answers
  // come only to the socket that asked): the next when the server says the next round may run.
  // Without a time (no snipe of ours in its final minutes there) the fallback stands.
  pricesAnswered(data) {
    if (!this.awaitingPrices) return;
    this.awaitingPrices = false;
    const next = data?.nextInMs;
    if (typeof next !== "number" || !(next > 0)) return;
    const jitter = Math.random() * REFRESH_JITTER_MS;
    this.schedulePrices(Math.min(REFRESH_MAX_MS, Math.max(REFRESH_MIN_MS, next + jitter)));
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  // Whether a socket is being made, opening or open: one at a time, or an `online` event in
  // the middle of a (re)connect would open a second socket beside it, which stays open unseen.
  attempting() {
    const state = this.socket?.readyState;
    return this.connecting || state === WebSocket.CONNECTING || state === WebSocket.OPEN;
  }

  async connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped || this.attempting()) return;
    this.connecting = true;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let url;
    try {
      url = await this.urlProvider();
    } catch {
      url = null;
    } finally {
      this.connecting = false;
    }
    if (this.stopped) return;
    if (!url) {
      this.scheduleRetry();
      return;
    }
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setState("live");
      this.send("sync");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send("ping"), PING_EVERY_MS);
      this.stopPrices();
      this.schedulePrices(REFRESH_PRICES_EVERY_MS);
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      clearInterval(this.pingTimer);
      this.stopPrices();
      this.socket = null;
      this.scheduleRetry();
    };
    socket.onerror = () => {
      // onclose follows and schedules the retry.
    };
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.setState(navigator.onLine === false ? "offline" : "reconnecting");
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "batch") {
      // Several events for this socket in one frame: each as if it had come alone.
      for (const event of message.data?.events ?? []) {
        if (event && typeof event === "object") this.accept(event);
      }
      return;
    }
    this.accept(message);
  }

  accept(message) {
    const id = message.eventId;
    if (id) {
      if (this.seen.has(id)) return;
      this.seen.add(id);
      this.seenOrder.push(id);
      if (this.seenOrder.length > SEEN_LIMIT) this.seen.delete(this.seenOrder.shift());
    }
    if (message.type === "pricesRefreshed") this.pricesAnswered(message.data);
    this.onMessage(message);
  }
}
