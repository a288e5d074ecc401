// The dashboard's only configuration. Locally ("local") it is served as is and the app reads
// the WebSocket URL and the sign-in endpoints from the stack's GET /local/info. On AWS
// `python deploy/dashboard.py --stack-name <stack>` writes it from the stack's outputs (see
// docs/dashboard.md), as the local stack does for its deployed-mode dashboard.
export default {
  // "local": /local/login and /local/refresh; "cognito": the Cognito Hosted UI with PKCE.
  mode: "local",
  // The REST API's base URL with its stage, e.g.
  // "https://abc123.execute-api.us-east-1.amazonaws.com/dev" (output HttpApiUrl); "" means the
  // origin the dashboard is served from (the local stack).
  apiBaseUrl: "",
  // The WebSocket API's URL, e.g. "wss://def456.execute-api.us-east-1.amazonaws.com/dev"
  // (output WebSocketUrl); null: ask /local/info.
  websocketUrl: null,
  cognito: {
    // The Hosted UI's domain (output CognitoDomain), e.g.
    // "ebay-sniper-dev-123456789012.auth.us-east-1.amazoncognito.com", or a whole URL.
    domain: "",
    clientId: "",
    region: "",
    // The app client's callback and sign-out URLs (outputs CognitoCallbackUrl and
    // CognitoSignOutUrl); "": this origin's /auth/callback/ and /.
    redirectUri: "",
    logoutUri: "",
    // Output CliCallbackUrl: where `sniper smoke` listens when it signs in (not the dashboard's).
    cliRedirectUri: "",
    scopes: ["openid", "email", "profile"],
  },
};
