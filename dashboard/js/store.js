// The snipes the dashboard shows, kept current by REST reads and realtime messages.

import { ACTIVE } from "./format.js";

const MAX_POINTS = 200;

export class Store {
  constructor() {
    this.snipes = new Map();
    this.prices = new Map(); // bidId → [[epochMs, cents], ...]
    // serverTime − Date.now(): the countdown ticks on the server's clock, not the laptop's.
    this.clockOffset = 0;
    this.listeners = new Set();
  }

  now() {
    return Date.now() + this.clockOffset;
  }

  observeServerTime(serverTime) {
    if (Number.isFinite(serverTime)) this.clockOffset = serverTime - Date.now();
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(bidId, change) {
    for (const listener of this.listeners) listener(bidId, change);
  }

  clear() {
    this.snipes.clear();
    this.prices.clear();
    this.emit(null, { reset: true });
  }

  /** Merge fields into a snipe; returns what changed for the view ({priceChanged, ...}). */
  upsert(bidId, fields, { at } = {}) {
    if (!bidId) return;
    const previous = this.snipes.get(bidId);
    const next = { ...(previous || {}), bidId };
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined) next[name] = value;
    }
    this.snipes.set(bidId, next);
    if (Array.isArray(fields.priceHistory)) this.seedPrices(bidId, fields.priceHistory);
    const priceChanged =
      previous !== undefined &&
      fields.currentPrice !== undefined &&
      fields.currentPrice !== null &&
      fields.currentPrice !== previous.currentPrice;
    if (fields.currentPrice !== undefined && fields.currentPrice !== null) {
      this.addPrice(bidId, at ?? this.now(), fields.currentPrice);
    }
    this.emit(bidId, { created: previous === undefined, priceChanged });
  }

  seedPrices(bidId, history) {
    const points = [];
    for (const point of history) {
      if (Array.isArray(point) && point.length >= 2) {
        // [epochSeconds, cents] as the price updater stores them.
        const at = point[0] < 1e11 ? point[0] * 1000 : point[0];
        points.push([at, point[1]]);
      } else if (point && typeof point === "object") {
        const at = point.at ?? point.timestamp ?? point.time;
        const cents = point.amount ?? point.price ?? point.cents;
        if (at !== undefined && cents !== undefined) points.push([at < 1e11 ? at * 1000 : at, cents]);
      }
    }
    const known = this.prices.get(bidId) || [];
    const merged = [...points, ...known].sort((a, b) => a[0] - b[0]);
    this.prices.set(bidId, merged.slice(-MAX_POINTS));
  }

  addPrice(bidId, at, cents) {
    const points = this.prices.get(bidId) || [];
    const last = points[points.length - 1];
    if (last && last[1] === cents) return;
    points.push([at, cents]);
    if (points.length > MAX_POINTS) points.shift();
    this.prices.set(bidId, points);
  }

  active() {
    return [...this.snipes.values()]
      .filter((snipe) => ACTIVE.has(snipe.status))
      .sort((a, b) => a.auctionEndTime - b.auctionEndTime);
  }

  finished() {
    return [...this.snipes.values()]
      .filter((snipe) => !ACTIVE.has(snipe.status))
      .sort((a, b) => (b.updatedAt || b.auctionEndTime * 1000) - (a.updatedAt || a.auctionEndTime * 1000));
  }

  /**
   * Apply one realtime message. Returns the ids of snipes that were active before a snapshot
   * and are missing from it (they ended while we were away: the caller re-reads them).
   */
  apply(message) {
    this.observeServerTime(message.serverTime);
    const data = message.data || {};
    const bidId = message.bidId;
    const base = message.ebayItemId ? { ebayItemId: message.ebayItemId } : {};
    switch (message.type) {
      case "snapshot": {
        // A snapshot may come in parts: absences are judged once the last part is in.
        if ((data.part ?? 1) === 1 || !this.snapshotIds) this.snapshotIds = new Set();
        for (const snipe of data.snipes || []) {
          this.snapshotIds.add(snipe.bidId);
          this.upsert(snipe.bidId, snipe);
        }
        if ((data.part ?? 1) < (data.parts ?? 1)) return [];
        const present = this.snapshotIds;
        this.snapshotIds = null;
        return this.active()
          .map((snipe) => snipe.bidId)
          .filter((id) => !present.has(id));
      }
      case "bid.created":
        this.upsert(bidId, { ...base, ...data });
        break;
      case "bid.updated": {
        const fields = { ...base, status: data.status };
        for (const [name, change] of Object.entries(data.changes || {})) {
          fields[name] = change?.to;
        }
        this.upsert(bidId, fields);
        break;
      }
      case "bid.cancelled":
        this.upsert(bidId, {
          ...base,
          status: data.status || "CANCELLED",
          cancelReason: data.reason ?? undefined,
        });
        break;
      case "price.changed":
        this.upsert(bidId, { ...base, currentPrice: data.currentPrice, currency: data.currency ?? undefined }, {
          at: message.serverTime,
        });
        break;
      case "countdown":
        this.observeServerTime(data.serverTime);
        this.upsert(bidId, {
          ...base,
          auctionEndTime: data.auctionEndTime,
          ...(data.auctionEndMs ? { auctionEndMs: data.auctionEndMs } : {}),
          countdownPhase: data.phase,
          ...(data.phase === "ARMED" && this.snipes.get(bidId)?.status === "PENDING"
            ? { status: "ARMED" }
            : {}),
        });
        break;
      case "bid.placed":
        this.upsert(bidId, {
          ...base,
          status: "PLACED",
          placedAt: data.placedAt ?? undefined,
          msBeforeEnd: data.msBeforeEnd ?? undefined,
          placedAmount: data.amount ?? undefined,
        });
        break;
      case "bid.outcome":
        this.upsert(bidId, {
          ...base,
          status: data.outcome,
          finalPrice: data.finalPrice ?? undefined,
          currentPrice: data.finalPrice ?? undefined,
        });
        break;
      case "bid.failed":
        this.upsert(bidId, { ...base, status: "FAILED", failureReason: data.reason });
        break;
      default:
        break;
    }
    return [];
  }
}
