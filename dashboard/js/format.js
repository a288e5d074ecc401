// Money, times (in the user's timezone), countdowns and small DOM helpers.

export const ACTIVE = new Set(["PENDING", "ARMED", "PLACED"]);
export const FINAL = new Set(["WON", "LOST", "CANCELLED", "FAILED"]);

export function money(cents, currency = "USD") {
  if (cents === null || cents === undefined) return "—";
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency || "USD" }).format(
      cents / 100,
    );
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency || ""}`.trim();
  }
}

/** "42", "42.5", "$42.50" → 4250; null when it is not an amount. */
export function parseMoney(text) {
  const cleaned = String(text).replace(/[$,\s]/g, "");
  if (!/^\d+(\.\d{0,2})?$/.test(cleaned)) return null;
  return Math.round(Number(cleaned) * 100);
}

export function dateTime(epochMs, timeZone) {
  if (!epochMs) return "—";
  try {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: timeZone || undefined,
      dateStyle: "medium",
      timeStyle: "medium",
    }).format(new Date(epochMs));
  } catch {
    return new Date(epochMs).toISOString();
  }
}

export function timeZoneLabel(timeZone) {
  return timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** "2d 03:04:05", "03:04:05", "04:05", "0:09"; "Ended" at or past zero. */
export function countdown(ms) {
  if (ms <= 0) return "Ended";
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (days) return `${days}d ${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  if (hours) return `${hours}:${pad(minutes)}:${pad(seconds)}`;
  return `${minutes}:${pad(seconds)}`;
}

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const STATUS_LABELS = {
  PENDING: "Scheduled",
  ARMED: "Armed",
  PLACED: "Bid placed",
  WON: "Won",
  LOST: "Lost",
  CANCELLED: "Cancelled",
  FAILED: "Failed",
};

/** The stopwatch mark (an inline SVG: no emoji font needed). */
export function brandMark(big = false) {
  const span = h("span", { class: big ? "brand-mark big" : "brand-mark", "aria-hidden": "true" });
  span.innerHTML =
    '<svg viewBox="0 0 24 24" width="70%" height="70%" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"><circle cx="12" cy="13.5" r="7.5"/><path d="M12 13.5V9.5M10 2.5h4M18.5 6.5l1.5-1.5"/></svg>';
  return span;
}
