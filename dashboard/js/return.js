// The pages eBay and Cognito send the browser back to: /ebay/callback/ and /ebay/declined/
// (eBay's accept and decline URLs) and /auth/callback/ (the Hosted UI's). What came back (the
// code and state, or an error) goes to sessionStorage under the page's key, never into a URL
// the app keeps, and the browser returns to the dashboard at the root of its origin, which
// finishes the eBay link or the sign-in. A file, not an inline script: the dashboard's CSP runs
// none.
(() => {
  const { key, declined, hash } = document.currentScript.dataset;
  const query = new URLSearchParams(location.search);
  sessionStorage.setItem(
    key,
    JSON.stringify({
      code: query.get("code"),
      state: query.get("state"),
      error: query.get("error"),
      declined: declined === "true",
    }),
  );
  location.replace(`/${hash || ""}`);
})();
