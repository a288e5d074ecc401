// The dashboard's only configuration. Locally ("local") it is served as is and the app reads
// the WebSocket URL and the sign-in endpoints from the stack's GET /local/info. On AWS the
// deployer overwrites this file (see docs/dashboard.md) with the stack outputs.
export default {
  // "local": /local/login and /local/refresh; "cognito": the Cognito Hosted UI with PKCE.
  mode: "local",
  // The REST API's base URL, e.g. "https://abc123.execute-api.us-east-1.amazonaws.com";
  // "" means the origin the dashboard is served from (the local stack).
  apiBaseUrl: "",
  // The WebSocket API's URL, e.g. "wss://def456.execute-api.us-east-1.amazonaws.com/prod";
  // null: ask /local/info.
  websocketUrl: null,
  cognito: {
    // The Hosted UI domain, e.g. "sniper-prod.auth.us-east-1.amazoncognito.com".
    domain: "",
    clientId: "",
    // Must be one of the app client's callback URLs; "" means this page's URL without query.
    redirectUri: "",
    scopes: ["openid", "email", "profile"],
  },
};
