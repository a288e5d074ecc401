// The eBay account link (the OAuth round trip through eBay's consent page) and preferences.

import { FieldErrors, field } from "../forms.js";
import { dateTime, h, timeZoneLabel } from "../format.js";

export function renderAccount(ctx, main) {
  main.append(h("div", { class: "account-grid" }, ebayPanel(ctx), preferencesPanel(ctx)));
}

function ebayPanel(ctx) {
  const notice = h("div", { class: "notice", role: "status", hidden: true });
  if (ctx.ebayNotice) {
    notice.hidden = false;
    notice.textContent = ctx.ebayNotice.text;
    notice.className = `notice notice-${ctx.ebayNotice.kind}`;
    ctx.ebayNotice = null;
  }
  const body = h("div", { class: "ebay-status", id: "ebay-status" }, h("p", { class: "muted" }, "Checking…"));
  const section = h(
    "section",
    { class: "card panel", "aria-labelledby": "ebay-title" },
    h("h2", { id: "ebay-title" }, "eBay account"),
    notice,
    body,
  );

  function say(kind, text) {
    notice.hidden = false;
    notice.className = `notice notice-${kind}`;
    notice.textContent = text;
  }

  async function show() {
    let status;
    try {
      status = await ctx.api.get("/ebay/auth/status");
    } catch (error) {
      body.replaceChildren(h("p", { class: "form-error" }, error.message));
      return;
    }
    const tz = ctx.profile?.preferences?.timezone;
    if (status.isLinked) {
      const unlink = h("button", { type: "button", class: "button danger" }, "Unlink eBay account");
      unlink.addEventListener("click", async () => {
        if (!window.confirm("Unlink your eBay account? Active snipes are kept but cannot fire until you link again.")) return;
        unlink.disabled = true;
        try {
          const result = await ctx.api.delete("/ebay/auth/unlink");
          say(
            "info",
            result.pendingSnipes
              ? `Unlinked. ${result.pendingSnipes} active snipe(s) cannot fire until you link again.`
              : "Unlinked.",
          );
          await ctx.refreshProfile().catch(() => {});
          show();
        } catch (error) {
          say("error", error.message);
          unlink.disabled = false;
        }
      });
      const expires = status.tokenExpiresAt ? dateTime(status.tokenExpiresAt * 1000, tz) : "—";
      body.replaceChildren(
        h("p", {}, h("span", { class: "badge status-won", "data-testid": "ebay-linked" }, "Linked")),
        h(
          "dl",
          { class: "facts" },
          h("div", {}, h("dt", {}, "eBay account"), h("dd", { "data-testid": "ebay-account" }, status.accountId || "—")),
          h("div", {}, h("dt", {}, "Linked"), h("dd", {}, dateTime(status.linkedAt, tz))),
          h("div", {}, h("dt", {}, "Link until"), h("dd", {}, expires)),
        ),
        h("div", { class: "actions" }, unlink),
      );
    } else {
      const link = h("button", { type: "button", class: "button primary" }, "Link eBay account");
      link.addEventListener("click", async () => {
        link.disabled = true;
        try {
          const { authUrl } = await ctx.api.get("/ebay/auth/url");
          location.assign(authUrl);
        } catch (error) {
          say("error", error.message);
          link.disabled = false;
        }
      });
      body.replaceChildren(
        h("p", {}, h("span", { class: "badge status-cancelled", "data-testid": "ebay-not-linked" }, "Not linked")),
        h("p", { class: "muted" }, "Snipes are placed with your eBay account. You sign in on eBay's own page; the sniper never sees your eBay password."),
        h("div", { class: "actions" }, link),
      );
    }
  }
  show();
  return section;
}

function preferencesPanel(ctx) {
  const prefs = ctx.profile?.preferences || {};
  const checkbox = (name, text) => {
    const input = h("input", { type: "checkbox", id: `pref-${name}`, name, checked: prefs[name] !== false });
    const error = h("p", { class: "field-error", id: `pref-${name}-error` });
    input.setAttribute("aria-describedby", error.id);
    return {
      wrapper: h("div", { class: "check" }, input, h("label", { for: input.id }, text), error),
      input,
      error,
    };
  };
  const email = checkbox("emailNotifications", "Email me about my snipes");
  const won = checkbox("bidWinNotifications", "Email when I win");
  const lost = checkbox("bidLossNotifications", "Email when I lose");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const current = prefs.timezone || "UTC";
  const zoneList = zones.includes(current) ? zones : [current, ...zones];
  if (!zoneList.includes("UTC")) zoneList.unshift("UTC");
  const timezone = field(
    "pref",
    "timezone",
    "Timezone",
    h("select", {}, zoneList.map((z) => h("option", { value: z, selected: z === current }, z.replace(/_/g, " ")))),
    "Every time on the dashboard is shown in it.",
  );
  const browserZone = timeZoneLabel();
  const useBrowser = h("button", { type: "button", class: "button ghost small" }, `Use ${browserZone}`);
  useBrowser.addEventListener("click", () => {
    timezone.input.value = browserZone;
  });
  timezone.wrapper.append(useBrowser);
  const lead = field(
    "pref",
    "defaultLeadSeconds",
    "Default lead time (seconds)",
    h("input", { type: "number", min: 1, max: 30, placeholder: "server default" }),
    "New snipes bid this long before the end (1–30).",
  );
  lead.input.value = prefs.defaultLeadSeconds ?? "";
  const formError = h("p", { class: "form-error", role: "alert" });
  const errors = new FieldErrors(
    {
      emailNotifications: email,
      bidWinNotifications: won,
      bidLossNotifications: lost,
      timezone,
      defaultLeadSeconds: lead,
    },
    formError,
  );
  const save = h("button", { type: "submit", class: "button primary" }, "Save preferences");
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-labelledby": "prefs-title" },
    h("fieldset", {}, h("legend", {}, "Notifications"), email.wrapper, won.wrapper, lost.wrapper),
    timezone.wrapper,
    lead.wrapper,
    formError,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    save.disabled = true;
    try {
      const saved = await ctx.api.put("/users/preferences", {
        emailNotifications: email.input.checked,
        bidWinNotifications: won.input.checked,
        bidLossNotifications: lost.input.checked,
        timezone: timezone.input.value,
        defaultLeadSeconds: lead.input.value === "" ? null : Number(lead.input.value),
      });
      if (ctx.profile) ctx.profile.preferences = saved.preferences || saved;
      ctx.toast("Preferences saved.", "success");
    } catch (error) {
      errors.show(error);
    } finally {
      save.disabled = false;
    }
  });
  return h("section", { class: "card panel", "aria-labelledby": "prefs-title" }, h("h2", { id: "prefs-title" }, "Preferences"), form);
}
