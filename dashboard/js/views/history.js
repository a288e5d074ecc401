// Every change to the user's snipes, newest first, with filters and cursor pagination.

import { STATUS_LABELS, dateTime, h, money, timeZoneLabel } from "../format.js";

const ACTIONS = ["CREATE", "UPDATE", "CANCEL", "PLACE", "WIN", "LOSE", "FAIL"];
const ACTION_LABELS = {
  CREATE: "Created",
  UPDATE: "Changed",
  CANCEL: "Cancelled",
  PLACE: "Bid placed",
  WIN: "Won",
  LOSE: "Lost",
  FAIL: "Failed",
};

export function renderHistory(ctx, main) {
  const tz = ctx.profile?.preferences?.timezone;
  const action = h("select", { id: "history-action" }, h("option", { value: "" }, "All actions"), ACTIONS.map((a) => h("option", { value: a }, ACTION_LABELS[a])));
  const from = h("input", { id: "history-from", type: "datetime-local" });
  const to = h("input", { id: "history-to", type: "datetime-local" });
  const limit = h("select", { id: "history-limit" }, [10, 20, 50, 100].map((n) => h("option", { value: n, selected: n === 20 }, String(n))));
  const apply = h("button", { type: "submit", class: "button primary small" }, "Apply");
  const reset = h("button", { type: "reset", class: "button ghost small" }, "Clear");
  const filters = h(
    "form",
    { class: "filters", "aria-label": "History filters" },
    h("div", { class: "field" }, h("label", { for: "history-action" }, "Action"), action),
    h("div", { class: "field" }, h("label", { for: "history-from" }, `From (${timeZoneLabel(tz)})`), from),
    h("div", { class: "field" }, h("label", { for: "history-to" }, `To (${timeZoneLabel(tz)})`), to),
    h("div", { class: "field" }, h("label", { for: "history-limit" }, "Per page"), limit),
    h("div", { class: "filter-buttons" }, reset, apply),
  );
  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "table", id: "history-table" },
    h("caption", { class: "visually-hidden" }, "Snipe history, newest first"),
    h("thead", {}, h("tr", {}, ["When", "Action", "Status", "Item", "Details"].map((c) => h("th", { scope: "col" }, c)))),
    body,
  );
  const message = h("p", { class: "muted", role: "status" });
  const previous = h("button", { type: "button", class: "button small" }, "← Newer");
  const next = h("button", { type: "button", class: "button small" }, "Older →");
  const pageLabel = h("span", { class: "muted" });
  const pager = h("nav", { class: "pager", "aria-label": "History pages" }, previous, pageLabel, next);

  main.append(
    h(
      "section",
      { class: "section card panel", "aria-labelledby": "history-title" },
      h("h2", { id: "history-title" }, "History"),
      filters,
      h("div", { class: "table-wrap" }, table),
      message,
      pager,
    ),
  );

  // cursors[i] is the cursor that fetches page i (null for the first).
  let cursors = [null];
  let page = 0;
  let nextCursor = null;

  async function load() {
    const query = { limit: limit.value, action: action.value, cursor: cursors[page] };
    if (from.value) query.from = zonedToEpochMs(from.value, tz);
    if (to.value) query.to = zonedToEpochMs(to.value, tz);
    message.textContent = "Loading…";
    previous.disabled = true;
    next.disabled = true;
    try {
      const result = await ctx.api.get("/bid-history", query);
      const items = result.items || [];
      nextCursor = result.nextCursor || null;
      body.replaceChildren(...items.map((entry) => row(ctx, entry, tz)));
      message.textContent = items.length ? "" : "Nothing matches these filters.";
    } catch (error) {
      body.replaceChildren();
      message.textContent = error.message;
      nextCursor = null;
    }
    pageLabel.textContent = `Page ${page + 1}`;
    previous.disabled = page === 0;
    next.disabled = !nextCursor;
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    cursors = [null];
    page = 0;
    load();
  });
  filters.addEventListener("reset", () => {
    setTimeout(() => {
      cursors = [null];
      page = 0;
      load();
    }, 0);
  });
  next.addEventListener("click", () => {
    if (!nextCursor) return;
    cursors[page + 1] = nextCursor;
    page += 1;
    load();
  });
  previous.addEventListener("click", () => {
    if (page === 0) return;
    page -= 1;
    load();
  });
  load();
}

function row(ctx, entry, tz) {
  const snipe = ctx.store.snipes.get(entry.bidId);
  const item = snipe?.itemTitle ? `${snipe.itemTitle} (#${entry.ebayItemId})` : `#${entry.ebayItemId}`;
  return h(
    "tr",
    {},
    h("td", { class: "nowrap" }, dateTime(entry.timestamp, tz)),
    h("td", {}, ACTION_LABELS[entry.action] || entry.action),
    h("td", {}, h("span", { class: `badge status-${String(entry.status).toLowerCase()}` }, STATUS_LABELS[entry.status] || entry.status)),
    h("td", {}, item),
    h("td", { class: "details" }, describe(entry.details || {}, snipe?.currency, tz)),
  );
}

function describe(details, currency, tz) {
  const parts = [];
  for (const [name, value] of Object.entries(details)) {
    if (value === null || value === undefined || value === "") continue;
    parts.push(`${label(name)}: ${show(name, value, currency, tz)}`);
  }
  return parts.join(" · ");
}

function label(name) {
  return name.replace(/([A-Z])/g, " $1").toLowerCase();
}

function show(name, value, currency, tz) {
  if (value && typeof value === "object" && "from" in value && "to" in value) {
    return `${show(name, value.from, currency, tz)} → ${show(name, value.to, currency, tz)}`;
  }
  if (typeof value === "number" && /amount|price/i.test(name)) return money(value, currency);
  if (typeof value === "number" && /At$/.test(name)) return dateTime(value < 1e11 ? value * 1000 : value, tz);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** "2024-05-01T12:00" read as a wall-clock time in timeZone → epoch ms. */
export function zonedToEpochMs(local, timeZone) {
  const [date, time] = local.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = (time || "00:00").split(":").map(Number);
  const asUtc = Date.UTC(y, m - 1, d, hh, mm);
  if (!timeZone) return new Date(y, m - 1, d, hh, mm).getTime();
  const offset = zoneOffsetMs(asUtc, timeZone);
  return asUtc - zoneOffsetMs(asUtc - offset, timeZone);
}

function zoneOffsetMs(epochMs, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(epochMs));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - Math.floor(epochMs / 1000) * 1000;
}
