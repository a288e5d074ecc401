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

export class Api {
  constructor(baseUrl, auth) {
    this.baseUrl = baseUrl;
    this.auth = auth;
  }

  async request(method, path, { body, query } = {}, retried = false) {
    const url = new URL(`${this.baseUrl}${path}`, location.href);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json" };
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
      if (this.auth.signedIn) return this.request(method, path, { body, query }, true);
    }
    const error = payload?.error;
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
  put(path, body) {
    return this.request("PUT", path, { body });
  }
  delete(path) {
    return this.request("DELETE", path);
  }
}
