"""The notifier's emails: subject, HTML and text for each kind, from stored data only.

Every email names the item (or the account), states amounts in the snipe's currency and links
to the dashboard. Times are shown in the user's time zone (their preference).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from common.ebay.models import Money
from common.models import BidEntity, UserEntity
from common.notifier_client import NotificationKind


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html_body: str
    text_body: str


def money(amount: int | None, currency: str) -> str:
    if amount is None:
        return "unknown"
    return Money(amount=max(0, amount), currency=currency).display()


def local_time(epoch_seconds: int, timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    moment = datetime.fromtimestamp(epoch_seconds, UTC).astimezone(zone)
    return moment.strftime("%a %d %b %Y, %H:%M %Z")


def snipe_link(dashboard_url: str, bid_id: str) -> str:
    return f"{dashboard_url.rstrip('/')}/#/snipes/{quote(bid_id, safe='')}"


def account_link(dashboard_url: str) -> str:
    return f"{dashboard_url.rstrip('/')}/#/account"


def render(
    kind: NotificationKind,
    user: UserEntity,
    dashboard_url: str,
    bid: BidEntity | None = None,
    refresh_expires_at: int | None = None,
) -> RenderedEmail:
    name = user.displayName or "there"
    tz = user.preferences.timezone
    if kind is NotificationKind.RELINK_NEEDED:
        link = account_link(dashboard_url)
        when = local_time(refresh_expires_at or 0, tz)
        subject = "Link your eBay account again to keep sniping"
        lines = [
            f"Hi {name},",
            f"eBay's permission for eBay Sniper to bid for you expires on {when}.",
            "Snipes ending after that cannot be placed until you link your eBay account again.",
        ]
        return _compose(subject, lines, link, "Link eBay again")
    if kind is NotificationKind.EBAY_ACCOUNT_DELETED:
        subject = "Your eBay account was closed: sniping stopped"
        lines = [
            f"Hi {name},",
            "eBay told us that the eBay account linked to eBay Sniper has been closed and its"
            " data deleted at the owner's request.",
            "We have deleted what we held for it: the link and eBay's permission to bid for you."
            " Your snipes that had not started bidding were cancelled.",
            "To snipe again, link another eBay account.",
        ]
        return _compose(subject, lines, account_link(dashboard_url), "Open eBay Sniper")
    assert bid is not None
    subject, lines = _snipe_email(kind, bid, name, tz)
    return _compose(subject, lines, snipe_link(dashboard_url, bid.bidId), "Open in eBay Sniper")


def _snipe_email(
    kind: NotificationKind, bid: BidEntity, name: str, tz: str
) -> tuple[str, list[str]]:
    """Subject and paragraphs of an email about one snipe."""
    title = bid.itemTitle
    cur = bid.currency
    your_max = money(bid.maxBidAmount, cur)
    ends = local_time(bid.auctionEndTime, tz)
    if kind is NotificationKind.WON:
        price = money(bid.finalPrice or bid.currentPrice, cur)
        return f"You won: {title}", [
            f"Hi {name},",
            f"You won “{title}” for {price} (your maximum was {your_max}).",
            f"The auction ended {ends}. Pay on eBay to complete the purchase.",
        ]
    if kind is NotificationKind.LOST:
        final = bid.finalPrice or bid.currentPrice
        price = money(final, cur)
        if bid.failureReason:
            # Below the reserve: nobody won, and the price may be under the maximum.
            return f"Not sold: {title}", [
                f"Hi {name},",
                f"“{title}” ended at {price} without a sale (your maximum was {your_max}).",
                f"{bid.failureReason}.",
                f"The auction ended {ends}.",
            ]
        if final is not None and final > bid.maxBidAmount:
            beaten = f"“{title}” sold for {price}, above your maximum of {your_max}."
        else:
            # At the maximum: an equal bid placed earlier won (eBay's rule).
            beaten = (
                f"“{title}” sold for {price}; your maximum of {your_max} was not the highest bid."
            )
        return f"Outbid: {title}", [f"Hi {name},", beaten, f"The auction ended {ends}."]
    if kind is NotificationKind.FAILED:
        reason = bid.failureReason or "eBay did not accept the bid."
        return f"Snipe not placed: {title}", [
            f"Hi {name},",
            f"Your snipe of {your_max} on “{title}” could not be placed.",
            f"Reason: {reason}",
        ]
    if kind is NotificationKind.OUTCOME_UNKNOWN:
        return f"Outcome unknown: {title}", [
            f"Hi {name},",
            f"Your snipe of {your_max} on “{title}” was placed, but eBay had not reported how"
            " the auction ended an hour later.",
            f"The auction ended {ends}. See the auction on eBay for the result.",
        ]
    price = money(bid.currentPrice, cur)
    return f"Price alert: {title} is now {price}", [
        f"Hi {name},",
        f"The price of “{title}” is now {price}, above your maximum of {your_max}.",
        f"Raise your maximum before the auction ends ({ends}) if you still want it.",
    ]


def _compose(subject: str, lines: list[str], link: str, action: str) -> RenderedEmail:
    text = "\n\n".join([*lines, f"{action}: {link}"]) + "\n"
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    body = (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"{paragraphs}<p><a href='{html.escape(link, quote=True)}'>{html.escape(action)}</a></p>"
        "<p style='color:#888;font-size:12px'>You can turn these emails off in the dashboard's "
        "settings.</p></body></html>"
    )
    return RenderedEmail(subject=subject, html_body=body, text_body=text)
