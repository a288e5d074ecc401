import { AuthError } from "../auth.js";
import { brandMark, h } from "../format.js";

export function renderSignIn(ctx) {
  const { auth } = ctx;
  const error = h("p", { class: "form-error", id: "signin-error", role: "alert" }, ctx.signInError || "");
  const card = h(
    "section",
    { class: "signin card", "aria-labelledby": "signin-title" },
    h("div", { class: "signin-brand" }, brandMark(true), "eBay Sniper"),
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { class: "muted" }, "Your bids land in the last seconds of the auction, while you watch."),
  );
  if (auth.mode === "cognito") {
    card.append(
      error,
      h(
        "button",
        {
          type: "button",
          class: "button primary wide",
          onclick: () => auth.startHostedLogin().catch((e) => (error.textContent = e.message)),
        },
        "Sign in",
      ),
    );
    return h("div", { class: "signin-page" }, card);
  }
  const email = h("input", { id: "signin-email", name: "username", type: "email", autocomplete: "username", required: true });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Sign in");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "signin-email" }, "Email"), email),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!email.value || !password.value) {
      error.textContent = "Enter your email and password.";
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      await auth.loginLocal(email.value.trim(), password.value);
    } catch (e) {
      error.textContent = e instanceof AuthError ? e.message : "The server cannot be reached.";
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
  card.append(form);
  const demo = ctx.info?.demoUser;
  if (demo) {
    card.append(
      h(
        "div",
        { class: "demo-hint" },
        h("p", {}, "Local stack demo user: ", h("code", {}, demo.username), " / ", h("code", {}, demo.password)),
        h(
          "button",
          {
            type: "button",
            class: "button ghost small",
            onclick: () => {
              email.value = demo.username;
              password.value = demo.password;
              submit.focus();
            },
          },
          "Use the demo user",
        ),
      ),
    );
  }
  setTimeout(() => email.focus(), 0);
  return h("div", { class: "signin-page" }, card);
}
