// Snipe groups: each group's rule (mode and limit), how many it has won, and what its active
// snipes add up to (GET /groups); the rule is set with PUT /groups/{groupId}.

import { FieldErrors, field } from "../forms.js";
import { h, money } from "../format.js";

const MODES = {
  WIN_UP_TO: "Win up to the limit",
  CONTINGENCY: "Contingency",
};
// Prices change with every price update; the totals follow at most this often.
const RELOAD_DELAY_MS = 1500;

export function modeLabel(group) {
  return group.mode === "CONTINGENCY" ? `Contingency, up to ${group.limit}` : `Win up to ${group.limit}`;
}

/** "$35.00", or one amount per currency ("$10.00 + €20.00") when they differ. */
function total(group, key) {
  if (group[key] !== null && group[key] !== undefined) return money(group[key], group.currency || "USD");
  return (group.totalsByCurrency || []).map((t) => money(t[key], t.currency)).join(" + ");
}

export function renderGroups(ctx, main) {
  const list = h("div", { class: "group-grid", id: "groups", "aria-live": "polite" });
  const empty = h(
    "div",
    { class: "empty", hidden: true },
    h("p", {}, "No groups yet."),
    h("p", { class: "muted" }, "Give snipes a group name when you set them, or set a group's rule below."),
  );
  const status = h("p", { class: "form-error", role: "alert" });
  const cards = new Map(); // groupId → card
  let made = 0; // numbers the cards' control ids
  let stopped = false;
  let soon = null;

  main.append(
    h(
      "div",
      { class: "layout" },
      h(
        "section",
        { class: "section primary", "aria-labelledby": "groups-title" },
        h("div", { class: "section-head" }, h("h2", { id: "groups-title" }, "Snipe groups")),
        h(
          "p",
          { class: "muted" },
          "A group's rule decides how many of its auctions to win: up to its limit, or (contingency) one after another in the order they end, stopping at the first loss.",
        ),
        status,
        list,
        empty,
      ),
      h("aside", { class: "secondary" }, newRuleForm(ctx, (group) => show([group], { merge: true }))),
    ),
  );

  async function reload() {
    if (stopped) return;
    try {
      const result = await ctx.api.get("/groups");
      if (stopped) return;
      status.textContent = "";
      show(result.items || []);
    } catch (error) {
      status.textContent = error.message;
    }
  }

  /** Lay out the groups; with merge, update or add only these (a rule just set). */
  function show(groups, { merge = false } = {}) {
    const seen = new Set();
    for (const group of groups) {
      seen.add(group.groupId);
      let card = cards.get(group.groupId);
      if (!card) {
        card = groupCard(ctx, group.groupId, made++, (saved) => card.update(saved));
        cards.set(group.groupId, card);
      }
      card.update(group);
    }
    if (!merge) {
      for (const [groupId, card] of cards) {
        if (!seen.has(groupId)) {
          card.element.remove();
          cards.delete(groupId);
        }
      }
    }
    const ordered = [...cards.keys()].sort().map((groupId) => cards.get(groupId).element);
    ordered.forEach((element, index) => {
      if (list.children[index] !== element) list.insertBefore(element, list.children[index] || null);
    });
    empty.hidden = cards.size > 0;
  }

  function reloadSoon() {
    clearTimeout(soon);
    soon = setTimeout(reload, RELOAD_DELAY_MS);
  }

  const unsubscribe = ctx.store.onChange((bidId, change) => {
    const snipe = bidId ? ctx.store.snipes.get(bidId) : null;
    if (change?.reset || snipe?.groupId) reloadSoon();
  });
  reload();

  return () => {
    stopped = true;
    clearTimeout(soon);
    unsubscribe();
  };
}

function modeSelect() {
  return h(
    "select",
    {},
    Object.entries(MODES).map(([value, label]) => h("option", { value }, label)),
  );
}

function limitInput() {
  return h("input", { type: "number", min: 1, max: 100, step: 1, inputmode: "numeric" });
}

/** The rule from a form's controls; null (with the error shown) when the limit is no number. */
function ruleFrom(mode, limit, errors) {
  const value = limit.input.value.trim();
  if (!/^-?\d+$/.test(value)) {
    errors.set("limit", "Enter a whole number from 1 to 100.");
    limit.input.focus();
    return null;
  }
  return { mode: mode.input.value, limit: Number(value) };
}

async function putRule(ctx, groupId, rule) {
  return ctx.api.put(`/groups/${encodeURIComponent(groupId)}`, rule);
}

// ---- a group's card

function groupCard(ctx, groupId, index, onSaved) {
  const prefix = `group-${index}`;
  const title = h("h3", { class: "group-title", id: `${prefix}-title` }, groupId);
  const badge = h("span", { class: "badge", "data-testid": "group-rule" });
  const won = h("dd", { "data-testid": "group-won" });
  const active = h("dd", { "data-testid": "group-active" });
  const prices = h("dd", { "data-testid": "group-total-price" });
  const maxima = h("dd", { "data-testid": "group-total-max" });

  const mode = field(prefix, "mode", "Mode", modeSelect());
  const limit = field(prefix, "limit", "Limit", limitInput(), "How many to win, 1–100");
  const formError = h("p", { class: "form-error", role: "alert" });
  const errors = new FieldErrors({ mode, limit }, formError);
  const save = h("button", { type: "submit", class: "button primary small" }, "Save rule");
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-label": `Rule of ${groupId}` },
    h("div", { class: "row" }, mode.wrapper, limit.wrapper),
    formError,
    h("div", { class: "actions" }, save),
  );
  const element = h(
    "article",
    { class: "card group", "data-group-id": groupId, "aria-labelledby": `${prefix}-title` },
    h("div", { class: "group-head" }, title, badge),
    h(
      "dl",
      { class: "figures" },
      h("div", {}, h("dt", {}, "Won"), won),
      h("div", {}, h("dt", {}, "Active snipes"), active),
      h("div", {}, h("dt", {}, "Current prices"), prices),
      h("div", {}, h("dt", {}, "Your maxima"), maxima),
    ),
    form,
  );
  let editing = false;
  for (const control of [mode.input, limit.input]) control.addEventListener("input", () => (editing = true));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const rule = ruleFrom(mode, limit, errors);
    if (!rule) return;
    save.disabled = true;
    try {
      const saved = await putRule(ctx, groupId, rule);
      editing = false;
      onSaved(saved);
      ctx.toast(`Group ${groupId}: ${modeLabel(saved)}.`, "success");
    } catch (error) {
      errors.show(error);
    } finally {
      save.disabled = false;
    }
  });

  function update(group) {
    badge.textContent = group.defaultRule ? `${modeLabel(group)} (default)` : modeLabel(group);
    badge.className = `badge ${group.mode === "CONTINGENCY" ? "status-armed" : "status-placed"}`;
    element.dataset.mode = group.mode;
    won.textContent = `${group.won} of ${group.limit}`;
    active.textContent = String(group.active);
    prices.textContent = total(group, "totalCurrentPrice");
    maxima.textContent = total(group, "totalMaxBid");
    // A reload of the totals leaves a rule being typed alone.
    if (!editing) {
      mode.input.value = group.mode;
      limit.input.value = String(group.limit);
    }
  }

  return { element, update };
}

// ---- a rule for a group, before or after its first snipe

function newRuleForm(ctx, onSaved) {
  const name = field("new-group", "groupId", "Group", h("input", { autocomplete: "off", placeholder: "e.g. cameras" }), "The group name your snipes carry");
  const mode = field("new-group", "mode", "Mode", modeSelect());
  const limit = field("new-group", "limit", "Limit", limitInput(), "1–100");
  limit.input.value = "1";
  const formError = h("p", { class: "form-error", role: "alert" });
  const errors = new FieldErrors({ groupId: name, mode, limit }, formError);
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Set rule");
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-labelledby": "new-group-title" },
    name.wrapper,
    mode.wrapper,
    limit.wrapper,
    formError,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const groupId = name.input.value.trim();
    if (!groupId) {
      errors.set("groupId", "Enter the group's name.");
      name.input.focus();
      return;
    }
    const rule = ruleFrom(mode, limit, errors);
    if (!rule) return;
    submit.disabled = true;
    try {
      const saved = await putRule(ctx, groupId, rule);
      onSaved(saved);
      ctx.toast(`Group ${saved.groupId}: ${modeLabel(saved)}.`, "success");
      form.reset();
      limit.input.value = "1";
    } catch (error) {
      errors.show(error);
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", { class: "card panel", id: "new-group" }, h("h2", { id: "new-group-title" }, "Set a group's rule"), form);
}
