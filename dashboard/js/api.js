// The REST API: every error arrives as {"error": {"code", "message", "details": [{field, message}]}}.

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The details keyed by the request field they concern ("body.maxBidAmount" → maxBidAmount). */
  fieldErrors() {
    const fields = {};
    for (const detail of this.details || []) {
      if (!detail.field) continue;
      const name = String(detail.field).split(".").pop();
      fields[name] = fields[name] ? `${fields[name]} ${detail.message}` : detail.message;
    }
    return fields;
  }
}

/** A fresh Idempotency-Key for one user action: its retries send the same one. */
export function idempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a page served over plain http from a LAN address has
  // getRandomValues only.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A create whose answer was lost may have landed: 503 (the database did not answer in time),
// a gateway that gave up on the function, or no answer at all. Sent again with its key, the
// API answers it with the snipe it made (README, POST /bids), so a retry never doubles it.
const MAYBE_DONE = new Set([0, 502, 503, 504]);
export const CREATE_RETRY_DELAYS_MS = [400, 1200, 3000];

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Api {
  constructor(baseUrl, auth) {
    this.baseUrl = baseUrl;
    this.auth = auth;
  }

  async request(method, path, { body, query, headers: extra } = {}, retried = false) {
    const url = new URL(`${this.baseUrl}${path}`, location.href);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json", ...extra };
    const token = await this.auth.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "NETWORK", "The server cannot be reached. Check your connection.");
    }
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (response.ok) return payload;
    // The gateway's own 401 ({"message": "Unauthorized"}): the token went stale, refresh once.
    if (response.status === 401 && !payload?.error && !retried && this.auth.signedIn) {
      await this.auth.refresh();
      if (this.auth.signedIn) return this.request(method, path, { body, query, headers: extra }, true);
    }
    const error = payload?.error;
    // The account was deleted (elsewhere) while this session's token is still in its hour:
    // nothing can be done with it, and its socket would be refused on every reconnect.
    if (response.status === 401 && error?.code === "ACCOUNT_DELETED") this.auth.signOut();
    if (error) throw new ApiError(response.status, error.code, error.message, error.details);
    throw new ApiError(
      response.status,
      `HTTP_${response.status}`,
      payload?.message || `The request failed (${response.status}).`,
    );
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }
  post(path, body) {
    return this.request("POST", path, { body });
  }
  /** POST one user action exactly once: one Idempotency-Key, and a few retries with it (with
   * growing, jittered pauses) while the answer may have been lost. */
  async postOnce(path, body, delays = CREATE_RETRY_DELAYS_MS) {
    const headers = { "Idempotency-Key": idempotencyKey() };
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.request("POST", path, { body, headers });
      } catch (error) {
        if (!(error instanceof ApiError) || !MAYBE_DONE.has(error.status) || attempt >= delays.length) throw error;
        await pause(delays[attempt] * (0.5 + Math.random() / 2));
      }
    }
  }
  put(path, body) {
    return this.request("PUT", path, { body });
  }
  delete(path) {
    return this.request("DELETE", path);
  }
}
