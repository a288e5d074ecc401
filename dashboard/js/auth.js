// Sign-in and tokens. Tokens live in sessionStorage (this tab only, gone when it closes, kept
// across the eBay consent round trip) and are refreshed a minute before they expire. They are
// sent in the Authorization header, and in the WebSocket URL's token parameter only.

const SESSION_KEY = "sniper.session";
const PKCE_KEY = "sniper.pkce";
// Where /auth/callback/ (js/return.js) leaves the Hosted UI's answer: {code, state, error}.
const CALLBACK_KEY = "sniper.cognitoCallback";
const REFRESH_MARGIN_MS = 60_000;

export class AuthError extends Error {}

export class Auth {
  constructor(config, apiBaseUrl) {
    this.config = config;
    this.apiBaseUrl = apiBaseUrl;
    this.session = readSession();
    this.listeners = new Set();
    this.refreshTimer = null;
    this.refreshing = null;
    this.schedule();
  }

  get mode() {
    return this.config.mode === "cognito" ? "cognito" : "local";
  }

  get signedIn() {
    return Boolean(this.session?.idToken);
  }

  /** The signed-in user's email, from the id token's claims. */
  get email() {
    return this.signedIn ? claims(this.session.idToken).email || "" : "";
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  /** A valid id token (refreshed first when it is about to expire); null when signed out. */
  async token() {
    if (!this.signedIn) return null;
    if (Date.now() > this.session.expiresAt - REFRESH_MARGIN_MS) {
      await this.refresh();
    }
    return this.session?.idToken ?? null;
  }

  // ---- local user pool (the local stack's /local/login)

  async loginLocal(username, password) {
    const response = await fetch(`${this.apiBaseUrl}/local/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!response.ok) {
      throw new AuthError(
        response.status === 401 ? "Wrong email or password." : `Sign-in failed (${response.status}).`,
      );
    }
    this.store(await response.json());
  }

  // ---- Cognito Hosted UI, authorization code with PKCE

  async startHostedLogin() {
    const verifier = randomString(64);
    const state = randomString(24);
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
    const challenge = base64url(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)),
    );
    const c = this.config.cognito;
    const url = this.hostedUi("/oauth2/authorize");
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: c.clientId,
      redirect_uri: this.redirectUri(),
      scope: (c.scopes || ["openid", "email"]).join(" "),
      state,
      code_challenge_method: "S256",
      code_challenge: challenge,
    }).toString();
    location.assign(url.toString());
  }

  /** Finish a Hosted UI sign-in when the browser is back from it (its /auth/callback/ page left
   * the answer in sessionStorage); true when it was. */
  async completeHostedLogin() {
    if (this.mode !== "cognito") return false;
    const answer = JSON.parse(sessionStorage.getItem(CALLBACK_KEY) || "null");
    if (!answer) return false;
    sessionStorage.removeItem(CALLBACK_KEY);
    const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    if (answer.error) throw new AuthError(`Sign-in did not finish (${answer.error}).`);
    if (!answer.code || !pending) return false;
    if (answer.state !== pending.state) throw new AuthError("Sign-in state mismatch.");
    this.store(
      await this.tokenRequest({
        grant_type: "authorization_code",
        code: answer.code,
        redirect_uri: this.redirectUri(),
        code_verifier: pending.verifier,
      }),
    );
    return true;
  }

  /** A Hosted UI URL: the domain is "<prefix>.auth.<region>.amazoncognito.com", or a whole
   * origin and path (the local stack's stand-in, "http://localhost:8000/local/cognito"). */
  hostedUi(path) {
    const domain = this.config.cognito.domain.replace(/\/+$/, "");
    return new URL(`${/^https?:\/\//.test(domain) ? domain : `https://${domain}`}${path}`);
  }

  /** The app client's callback URL (the stack's output CognitoCallbackUrl). */
  redirectUri() {
    return this.config.cognito.redirectUri || `${location.origin}/auth/callback/`;
  }

  /** The app client's sign-out URL (the stack's output CognitoSignOutUrl). */
  logoutUri() {
    return this.config.cognito.logoutUri || `${location.origin}/`;
  }

  async tokenRequest(fields) {
    const response = await fetch(this.hostedUi("/oauth2/token"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.config.cognito.clientId, ...fields }),
    });
    if (!response.ok) throw new AuthError(`Cognito refused the sign-in (${response.status}).`);
    const body = await response.json();
    return {
      idToken: body.id_token,
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresIn: body.expires_in,
    };
  }

  // ---- both

  async refresh() {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async doRefresh() {
    const refreshToken = this.session?.refreshToken;
    if (!refreshToken) {
      this.signOut();
      return;
    }
    try {
      let tokens;
      if (this.mode === "cognito") {
        tokens = await this.tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken });
      } else {
        const response = await fetch(`${this.apiBaseUrl}/local/refresh`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refreshToken }),
        });
        if (!response.ok) throw new AuthError(`refresh refused (${response.status})`);
        tokens = await response.json();
      }
      // Cognito does not rotate refresh tokens: keep the one we have.
      this.store({ ...tokens, refreshToken: tokens.refreshToken || refreshToken });
    } catch (error) {
      if (error instanceof AuthError) {
        this.signOut();
      } else {
        // A network hiccup: try again shortly rather than signing the user out.
        this.schedule(10_000);
        throw error;
      }
    }
  }

  store(tokens) {
    this.session = {
      idToken: tokens.idToken,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: Date.now() + Number(tokens.expiresIn || 3600) * 1000,
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(this.session));
    this.schedule();
    this.emit();
  }

  schedule(delay) {
    clearTimeout(this.refreshTimer);
    if (!this.signedIn) return;
    const wait = delay ?? Math.max(1000, this.session.expiresAt - REFRESH_MARGIN_MS - Date.now());
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }

  signOut() {
    const wasSignedIn = this.signedIn;
    this.session = null;
    clearTimeout(this.refreshTimer);
    sessionStorage.removeItem(SESSION_KEY);
    if (wasSignedIn) this.emit();
    if (wasSignedIn && this.mode === "cognito" && this.config.cognito.domain) {
      const url = this.hostedUi("/logout");
      url.search = new URLSearchParams({
        client_id: this.config.cognito.clientId,
        logout_uri: this.logoutUri(),
      }).toString();
      location.assign(url.toString());
    }
  }

  emit() {
    for (const listener of this.listeners) listener(this.signedIn);
  }
}

function readSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return session?.idToken ? session : null;
  } catch {
    return null;
  }
}

export function claims(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

function randomString(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
