// The screen a sniper keeps open: live snipe cards, a new-snipe form and the eBay watch list.

import { ApiError } from "../api.js";
import { priceChart } from "../chart.js";
import { FieldErrors, field } from "../forms.js";
import { ACTIVE, STATUS_LABELS, countdown, dateTime, h, money, parseMoney } from "../format.js";

const URGENT_MS = 60_000;
const FINISHED_SHOWN = 12;

export function renderSnipes(ctx, main) {
  const { store } = ctx;
  const cards = new Map(); // bidId → card
  let groupFilter = "";

  const groupSelect = h("select", { id: "group-filter", class: "compact" });
  groupSelect.addEventListener("change", () => {
    groupFilter = groupSelect.value;
    layout();
  });
  const activeList = h("div", { class: "snipe-grid", id: "active-snipes", "aria-live": "off" });
  const activeEmpty = h(
    "div",
    { class: "empty" },
    h("p", {}, "No active snipes."),
    h("p", { class: "muted" }, "Pick an auction from your watch list or enter an item number."),
  );
  const finishedList = h("div", { class: "snipe-grid finished", id: "finished-snipes" });
  const finishedSection = h(
    "section",
    { class: "section", "aria-labelledby": "finished-title" },
    h("div", { class: "section-head" }, h("h2", { id: "finished-title" }, "Finished")),
    finishedList,
  );

  const form = newSnipeForm(ctx, { onCreated: () => watchlist.reload() });
  const watchlist = watchList(ctx, (item) => form.prefill(item));

  main.append(
    h(
      "div",
      { class: "layout" },
      h(
        "div",
        { class: "primary" },
        h(
          "section",
          { class: "section", "aria-labelledby": "active-title" },
          h(
            "div",
            { class: "section-head" },
            h("h2", { id: "active-title" }, "Active snipes"),
            h("div", { class: "inline-field" }, h("label", { for: "group-filter" }, "Show group"), groupSelect),
          ),
          activeList,
          activeEmpty,
        ),
        finishedSection,
      ),
      h("aside", { class: "secondary" }, form.element, watchlist.element),
    ),
  );

  function cardFor(snipe) {
    let card = cards.get(snipe.bidId);
    if (!card) {
      card = snipeCard(ctx, snipe.bidId);
      cards.set(snipe.bidId, card);
    }
    return card;
  }

  function layout() {
    const groups = new Set();
    for (const snipe of store.snipes.values()) if (snipe.groupId) groups.add(snipe.groupId);
    const options = [h("option", { value: "" }, "All"), ...[...groups].sort().map((g) => h("option", { value: g }, g))];
    groupSelect.replaceChildren(...options);
    if (groupFilter && !groups.has(groupFilter)) groupFilter = "";
    groupSelect.value = groupFilter;
    groupSelect.parentElement.hidden = groups.size === 0;

    const inGroup = (snipe) => !groupFilter || snipe.groupId === groupFilter;
    const active = store.active().filter(inGroup);
    const finished = store.finished().filter(inGroup).slice(0, FINISHED_SHOWN);
    placeAll(activeList, active.map(cardFor));
    placeAll(finishedList, finished.map(cardFor));
    activeEmpty.hidden = active.length > 0;
    finishedSection.hidden = finished.length === 0;
    for (const [bidId, card] of cards) {
      if (!card.element.isConnected) cards.delete(bidId);
    }
  }

  const unsubscribe = store.onChange((bidId, change) => {
    if (change?.reset) {
      cards.clear();
      layout();
      return;
    }
    const snipe = store.snipes.get(bidId);
    const card = cards.get(bidId);
    const wasActive = card?.element.parentElement === activeList;
    if (!card || change.created || wasActive !== ACTIVE.has(snipe.status)) layout();
    cards.get(bidId)?.update(snipe, change);
    if (change.created || !ACTIVE.has(snipe.status)) watchlist.reloadSoon();
  });

  layout();
  for (const card of cards.values()) card.update(store.snipes.get(card.bidId), {});

  // One clock for every countdown on the page, on the server's time, on the second.
  let timer = null;
  const tick = () => {
    const now = store.now();
    for (const card of cards.values()) card.tick(now);
    watchlist.tick(now);
    timer = setTimeout(tick, 1000 - (now % 1000) + 5);
  };
  tick();

  return () => {
    clearTimeout(timer);
    unsubscribe();
    watchlist.stop();
  };
}

/** Put elements in order with as few DOM moves as possible (keeps focus and animations). */
function placeAll(container, wanted) {
  const elements = wanted.map((card) => card.element);
  elements.forEach((element, index) => {
    if (container.children[index] !== element) container.insertBefore(element, container.children[index] || null);
  });
  while (container.children.length > elements.length) container.lastElementChild.remove();
}

// ---- a snipe's card

function snipeCard(ctx, bidId) {
  const { store } = ctx;
  const image = h("img", { class: "thumb", alt: "", loading: "lazy", width: 96, height: 96 });
  const title = h("h3", { class: "snipe-title", id: `title-${bidId}` });
  const badge = h("span", { class: "badge", "data-testid": "status" });
  const group = h("span", { class: "chip", hidden: true });
  const price = h("dd", { class: "price", "data-testid": "current-price" });
  const maximum = h("dd", { "data-testid": "max-bid" });
  const lead = h("dd", { "data-testid": "lead" });
  const clock = h("dd", { class: "countdown", role: "timer", "aria-live": "off", "data-testid": "countdown" });
  const ends = h("p", { class: "ends muted" });
  const placed = h("p", { class: "placed-info", "data-testid": "placed-info", hidden: true });
  const banner = h("div", { class: "banner", "data-testid": "outcome", role: "status", hidden: true });
  const chartBox = h("div", { class: "chart-box" });
  const editButton = h("button", { type: "button", class: "button small" }, "Edit");
  const cancelButton = h("button", { type: "button", class: "button small danger" }, "Cancel snipe");
  const actions = h("div", { class: "actions" }, editButton, cancelButton);

  const element = h(
    "article",
    { class: "card snipe", "data-bid-id": bidId, "aria-labelledby": `title-${bidId}` },
    h(
      "div",
      { class: "snipe-head" },
      image,
      h("div", { class: "snipe-heading" }, title, h("div", { class: "tags" }, badge, group), ends),
    ),
    h(
      "dl",
      { class: "figures" },
      h("div", {}, h("dt", {}, "Current price"), price),
      h("div", {}, h("dt", {}, "Your maximum"), maximum),
      h("div", {}, h("dt", {}, "Lead time"), lead),
      h("div", {}, h("dt", {}, "Ends in"), clock),
    ),
    placed,
    banner,
    chartBox,
    actions,
  );
  editButton.addEventListener("click", () => editDialog(ctx, store.snipes.get(bidId)));
  cancelButton.addEventListener("click", () => cancelDialog(ctx, store.snipes.get(bidId)));

  let current = null;
  let chartKey = "";

  function update(snipe, change) {
    if (!snipe) return;
    current = snipe;
    const currency = snipe.currency || "USD";
    const tz = ctx.profile?.preferences?.timezone;
    element.dataset.status = snipe.status;
    if (snipe.itemImageUrl && image.getAttribute("src") !== snipe.itemImageUrl) image.src = snipe.itemImageUrl;
    image.hidden = !snipe.itemImageUrl;
    title.textContent = snipe.itemTitle || `Item ${snipe.ebayItemId}`;
    badge.textContent = STATUS_LABELS[snipe.status] || snipe.status;
    badge.className = `badge status-${String(snipe.status).toLowerCase()}`;
    group.hidden = !snipe.groupId;
    group.textContent = snipe.groupId ? `Group: ${snipe.groupId}` : "";
    price.textContent = money(snipe.currentPrice, currency);
    if (change.priceChanged) {
      price.classList.remove("flash");
      void price.offsetWidth; // restart the animation
      price.classList.add("flash");
    }
    maximum.textContent = money(snipe.maxBidAmount, currency);
    lead.textContent = snipe.leadSeconds ? `${snipe.leadSeconds} s` : "—";
    ends.textContent = `#${snipe.ebayItemId} · ends ${dateTime(snipe.auctionEndTime * 1000, tz)}`;

    const showPlaced = snipe.msBeforeEnd !== undefined && snipe.msBeforeEnd !== null && snipe.status !== "CANCELLED";
    placed.hidden = !showPlaced;
    if (showPlaced) {
      placed.textContent = `Bid landed ${snipe.msBeforeEnd.toLocaleString("en-US")} ms before the end`;
    }
    renderBanner(snipe, currency);

    const editable = snipe.status === "PENDING" || snipe.status === "ARMED";
    actions.hidden = !editable;
    const points = store.prices.get(bidId) || [];
    const key = `${points.length}:${points.at(-1)?.[1]}:${snipe.maxBidAmount}`;
    if (key !== chartKey) {
      chartKey = key;
      chartBox.replaceChildren(
        points.length
          ? priceChart(points, snipe.maxBidAmount, `Price history of ${title.textContent}: ${points.length} prices, now ${price.textContent}`)
          : h("span", { class: "muted small" }, "No price history yet"),
      );
    }
    tick(store.now());
  }

  function renderBanner(snipe, currency) {
    let text = "";
    let kind = "";
    if (snipe.status === "WON") {
      kind = "won";
      text = `Won at ${money(snipe.finalPrice ?? snipe.currentPrice, currency)}`;
    } else if (snipe.status === "LOST") {
      kind = "lost";
      text = `Lost: final price ${money(snipe.finalPrice ?? snipe.currentPrice, currency)}`;
    } else if (snipe.status === "FAILED") {
      kind = "failed";
      text = `Not placed: ${humanReason(snipe.failureReason)}`;
    } else if (snipe.status === "CANCELLED") {
      kind = "cancelled";
      text = snipe.cancelReason && snipe.cancelReason !== "USER" ? `Cancelled: ${humanReason(snipe.cancelReason)}` : "Cancelled";
    }
    banner.hidden = !text;
    banner.textContent = text;
    banner.className = `banner banner-${kind}`;
  }

  function tick(now) {
    if (!current) return;
    // eBay's end with its milliseconds where the API gives them (auctionEndMs).
    const remaining = (current.auctionEndMs ?? current.auctionEndTime * 1000) - now;
    clock.textContent = countdown(remaining);
    const urgent = ACTIVE.has(current.status) && remaining > 0 && remaining < URGENT_MS;
    clock.classList.toggle("urgent", urgent);
    element.classList.toggle("urgent", urgent);
  }

  return { bidId, element, update, tick };
}

function humanReason(reason) {
  if (!reason) return "unknown reason";
  return String(reason).replace(/_/g, " ").toLowerCase();
}

// ---- dialogs

function dialog(titleText, body, onClose) {
  const element = h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" }, h("h2", { id: "dialog-title" }, titleText), body);
  element.addEventListener("close", () => {
    element.remove();
    onClose?.();
  });
  document.body.append(element);
  element.showModal();
  return element;
}

function editDialog(ctx, snipe) {
  if (!snipe) return;
  const opener = document.activeElement;
  const amount = field("edit", "maxBidAmount", `Maximum bid (${snipe.currency || "USD"})`, h("input", { inputmode: "decimal", autocomplete: "off" }));
  amount.input.value = (snipe.maxBidAmount / 100).toFixed(2);
  const lead = field("edit", "leadSeconds", "Lead time (seconds)", h("input", { type: "number", min: 1, max: 30 }), "1–30 seconds before the end");
  lead.input.value = snipe.leadSeconds ?? "";
  const formError = h("p", { class: "form-error", role: "alert" });
  const errors = new FieldErrors({ maxBidAmount: amount, leadSeconds: lead }, formError);
  const save = h("button", { type: "submit", class: "button primary" }, "Save");
  const close = h("button", { type: "button", class: "button ghost" }, "Close");
  const form = h("form", { class: "form", novalidate: true }, amount.wrapper, lead.wrapper, formError, h("div", { class: "dialog-actions" }, close, save));
  const element = dialog(`Edit snipe: ${snipe.itemTitle || snipe.ebayItemId}`, form, () => opener?.focus?.());
  close.addEventListener("click", () => element.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const cents = parseMoney(amount.input.value);
    if (cents === null) {
      errors.set("maxBidAmount", "Enter an amount like 42.50.");
      amount.input.focus();
      return;
    }
    const body = { maxBidAmount: cents };
    if (lead.input.value !== "") body.leadSeconds = Number(lead.input.value);
    save.disabled = true;
    try {
      const updated = await ctx.api.put(`/bids/${encodeURIComponent(snipe.bidId)}`, body);
      ctx.store.upsert(snipe.bidId, updated);
      ctx.toast("Snipe updated.", "success");
      element.close();
    } catch (error) {
      errors.show(error);
      save.disabled = false;
    }
  });
  amount.input.focus();
  amount.input.select();
}

function cancelDialog(ctx, snipe) {
  if (!snipe) return;
  const opener = document.activeElement;
  const formError = h("p", { class: "form-error", role: "alert" });
  const keep = h("button", { type: "button", class: "button ghost" }, "Keep it");
  const confirm = h("button", { type: "button", class: "button danger" }, "Cancel snipe");
  const body = h(
    "div",
    {},
    h("p", {}, `The bid of up to ${money(snipe.maxBidAmount, snipe.currency)} will not be placed.`),
    formError,
    h("div", { class: "dialog-actions" }, keep, confirm),
  );
  const element = dialog(`Cancel the snipe on ${snipe.itemTitle || snipe.ebayItemId}?`, body, () => opener?.isConnected && opener.focus());
  keep.addEventListener("click", () => element.close());
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      const result = await ctx.api.delete(`/bids/${encodeURIComponent(snipe.bidId)}`);
      ctx.store.upsert(snipe.bidId, result && result.bidId ? result : { status: "CANCELLED" });
      ctx.toast("Snipe cancelled.", "success");
      element.close();
    } catch (error) {
      formError.textContent = error.message;
      confirm.disabled = false;
    }
  });
  keep.focus();
}

// ---- the new-snipe form

function newSnipeForm(ctx, { onCreated }) {
  const item = field("new", "ebayItemId", "eBay item number", h("input", { inputmode: "numeric", autocomplete: "off", placeholder: "e.g. 326000000001" }));
  const amount = field("new", "maxBidAmount", "Your maximum (USD)", h("input", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 42.50" }), "eBay never charges more than one increment over the next-highest bid.");
  const defaultLead = ctx.profile?.preferences?.defaultLeadSeconds;
  const lead = field(
    "new",
    "leadSeconds",
    "Lead time (s)",
    h("input", { type: "number", min: 1, max: 30, placeholder: defaultLead ? String(defaultLead) : "default" }),
    "Bid this long before the end (1–30).",
  );
  if (defaultLead) lead.input.value = String(defaultLead);
  const group = field("new", "groupId", "Group", h("input", { autocomplete: "off", placeholder: "e.g. cameras" }), "Optional: its rule (Groups) says how many of the group to win.");
  const formError = h("p", { class: "form-error", role: "alert" });
  const errors = new FieldErrors({ ebayItemId: item, maxBidAmount: amount, leadSeconds: lead, groupId: group }, formError);
  const selected = h("div", { class: "selected-item", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Set snipe");
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-labelledby": "new-title" },
    selected,
    item.wrapper,
    amount.wrapper,
    h("div", { class: "row" }, lead.wrapper, group.wrapper),
    formError,
    submit,
  );
  const element = h("section", { class: "card panel", id: "new-snipe" }, h("h2", { id: "new-title" }, "New snipe"), form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const body = { ebayItemId: item.input.value.trim() };
    const cents = parseMoney(amount.input.value);
    if (cents === null) {
      errors.set("maxBidAmount", "Enter an amount like 42.50.");
      amount.input.focus();
      return;
    }
    body.maxBidAmount = cents;
    if (lead.input.value !== "") body.leadSeconds = Number(lead.input.value);
    if (group.input.value.trim()) body.groupId = group.input.value.trim();
    submit.disabled = true;
    submit.textContent = "Setting…";
    try {
      const created = await ctx.api.postOnce("/bids", body);
      ctx.store.upsert(created.bidId, created);
      ctx.toast(`Snipe set on ${created.itemTitle || created.ebayItemId}.`, "success");
      for (const warning of created.warnings || []) ctx.toast(typeof warning === "string" ? warning : warning.message || JSON.stringify(warning), "info");
      form.reset();
      if (defaultLead) lead.input.value = String(defaultLead);
      selected.hidden = true;
      onCreated();
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && !Object.keys(error.fieldErrors()).length) {
        errors.set("ebayItemId", error.message);
      } else {
        errors.show(error);
      }
    } finally {
      submit.disabled = false;
      submit.textContent = "Set snipe";
    }
  });

  function prefill(watched) {
    errors.clear();
    item.input.value = watched.ebayItemId;
    selected.hidden = false;
    selected.replaceChildren(
      watched.imageUrl ? h("img", { src: watched.imageUrl, alt: "", width: 40, height: 40 }) : null,
      h("span", {}, watched.title),
    );
    const minimum = watched.currentPrice;
    if (minimum && !amount.input.value) amount.input.placeholder = `more than ${money(minimum.amount, minimum.currency)}`;
    amount.input.focus();
  }

  return { element, prefill };
}

// ---- the eBay watch list

function watchList(ctx, onPick) {
  const list = h("ul", { class: "watchlist", id: "watchlist" });
  const status = h("div", { class: "watchlist-status" });
  const refresh = h("button", { type: "button", class: "button ghost small", "aria-label": "Refresh the watch list" }, "Refresh");
  const element = h(
    "section",
    { class: "card panel", "aria-labelledby": "watchlist-title" },
    h("div", { class: "section-head" }, h("h2", { id: "watchlist-title" }, "eBay watch list"), refresh),
    status,
    list,
  );
  const clocks = [];
  let stopped = false;
  let soon = null;

  async function reload() {
    if (stopped) return;
    refresh.disabled = true;
    try {
      const page = await ctx.api.get("/wishlist/items", { limit: 50 });
      status.replaceChildren();
      clocks.length = 0;
      const items = page.items || [];
      list.replaceChildren(...items.map(row));
      if (!items.length) status.replaceChildren(h("p", { class: "muted" }, "No running auctions in your eBay watch list."));
    } catch (error) {
      list.replaceChildren();
      if (error instanceof ApiError && error.code === "EBAY_NOT_LINKED") {
        status.replaceChildren(
          h("p", {}, "Link your eBay account to see the auctions you watch."),
          h("a", { class: "button primary small", href: "#/account" }, "Link eBay account"),
        );
      } else {
        status.replaceChildren(h("p", { class: "form-error" }, error.message));
      }
    } finally {
      refresh.disabled = false;
    }
  }

  function row(watched) {
    const clock = h("span", { class: "countdown small" });
    clocks.push({ clock, endMs: watched.auctionEndMs ?? (watched.auctionEndTime ? watched.auctionEndTime * 1000 : null) });
    const price = watched.currentPrice ? money(watched.currentPrice.amount, watched.currentPrice.currency) : "—";
    const action = watched.hasActiveSnipe
      ? h("span", { class: "badge status-pending" }, "Sniping")
      : h(
          "button",
          { type: "button", class: "button small", "aria-label": `Snipe ${watched.title}`, onclick: () => onPick(watched) },
          "Snipe",
        );
    return h(
      "li",
      { class: "watch-item", "data-item-id": watched.ebayItemId },
      watched.imageUrl ? h("img", { src: watched.imageUrl, alt: "", width: 48, height: 48, loading: "lazy" }) : h("span", { class: "thumb-placeholder" }),
      h(
        "div",
        { class: "watch-body" },
        h("p", { class: "watch-title" }, watched.title),
        h("p", { class: "muted small" }, `${price} · ${watched.bidCount} bid${watched.bidCount === 1 ? "" : "s"} · `, clock),
      ),
      action,
    );
  }

  function tick(now) {
    for (const { clock, endMs } of clocks) {
      const remaining = endMs ? endMs - now : 0;
      clock.textContent = endMs ? (remaining > 0 ? `ends in ${countdown(remaining)}` : "ended") : "";
      clock.classList.toggle("urgent", remaining > 0 && remaining < URGENT_MS);
    }
  }

  function reloadSoon() {
    clearTimeout(soon);
    soon = setTimeout(reload, 500);
  }

  refresh.addEventListener("click", reload);
  reload();
  return {
    element,
    reload,
    reloadSoon,
    tick,
    stop: () => {
      stopped = true;
      clearTimeout(soon);
    },
  };
}
