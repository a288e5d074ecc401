"""eBay's Trading API, just GetMyeBayBuying's watch list, in eBay's XML."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from local.ebay_sim import engine, views
from local.ebay_sim.engine import Auction
from local.ebay_sim.http_common import origin_of, sim_of
from local.ebay_sim.money import format_trading_amount
from local.ebay_sim.simulator import Simulator

NS = "urn:ebay:apis:eBLBaseComponents"
VERSION = "1349"
BUILD = "E1349_CORE_APIMSG_20617543_R1"
MAX_ENTRIES_PER_PAGE = 200

routes = web.RouteTableDef()


class TradingFailure(Exception):
    def __init__(self, code: int, short: str, long: str, classification: str = "RequestError"):
        super().__init__(short)
        self.code = code
        self.short = short
        self.long = long
        self.classification = classification


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def _envelope(call: str, sim: Simulator, ack: str) -> ET.Element:
    root = ET.Element(f"{call}Response", {"xmlns": NS})
    _sub(root, "Timestamp", views.ebay_time(sim.now_ms()))
    _sub(root, "Ack", ack)
    return root


def _xml_response(root: ET.Element, status: int = 200) -> web.Response:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8")


def failure_response(
    sim: Simulator, call: str, failure: TradingFailure, status: int = 200
) -> web.Response:
    """eBay answers Trading API errors with 200 and ``Ack`` Failure plus an ``Errors`` element."""
    root = _envelope(call, sim, "Failure")
    errors = _sub(root, "Errors")
    _sub(errors, "ShortMessage", failure.short)
    _sub(errors, "LongMessage", failure.long)
    _sub(errors, "ErrorCode", str(failure.code))
    _sub(errors, "SeverityCode", "Error")
    _sub(errors, "ErrorClassification", failure.classification)
    _sub(root, "Version", VERSION)
    _sub(root, "Build", BUILD)
    return _xml_response(root, status)


def time_left(ms: int) -> str:
    """eBay's TimeLeft, an ISO 8601 duration such as ``P1DT2H3M4S``; ``PT0S`` once ended."""
    seconds = max(0, ms // 1000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "") + "T"
    text += (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text.endswith("T") else "")


def parse_request(raw: bytes) -> ET.Element:
    """The request's root element. A DTD, an entity declaration or an external reference is
    refused by the parser itself, in whatever encoding the document declares (a byte search
    for ``<!DOCTYPE`` missed UTF-16), so nothing expands and nothing is fetched."""
    try:
        root: ET.Element = fromstring(
            raw, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise TradingFailure(
            5, "XML Parse error.", "XML Error Text: DTDs and entities are refused."
        ) from exc
    except ET.ParseError as exc:
        raise TradingFailure(5, "XML Parse error.", f"XML Error Text: {exc}.") from exc
    return root


def _int_field(parent: ET.Element | None, path: str, default: int) -> int:
    if parent is None:
        return default
    found = parent.find(path)
    if found is None or not (found.text or "").strip():
        return default
    text = (found.text or "").strip()
    if not text.isdigit() or int(text) < 1:
        raise TradingFailure(
            37, "Input data is invalid.", f"Input data for tag <{path}> is invalid."
        )
    return int(text)


def _item(parent: ET.Element, auction: Auction, now_ms: int, origin: str) -> None:
    currency = auction.currency
    item = _sub(parent, "Item")
    if auction.buy_it_now_price is not None:
        _sub(
            item,
            "BuyItNowPrice",
            format_trading_amount(auction.buy_it_now_price),
            currencyID=currency,
        )
    _sub(item, "ItemID", auction.legacy_id)
    details = _sub(item, "ListingDetails")
    _sub(details, "StartTime", views.ebay_time(auction.created_ms))
    _sub(details, "ViewItemURL", f"{origin}/itm/{auction.legacy_id}")
    _sub(details, "EndTime", views.ebay_time(auction.end_ms))
    _sub(item, "ListingType", "Chinese")
    status = _sub(item, "SellingStatus")
    _sub(status, "BidCount", str(engine.bid_count(auction)))
    price = format_trading_amount(engine.current_price(auction))
    _sub(status, "ConvertedCurrentPrice", price, currencyID=currency)
    _sub(status, "CurrentPrice", price, currencyID=currency)
    if auction.reserve_price is not None:
        _sub(status, "ReserveMet", "true" if engine.reserve_met(auction) else "false")
    _sub(status, "ListingStatus", "Completed" if engine.is_ended(auction, now_ms) else "Active")
    _sub(item, "TimeLeft", time_left(auction.end_ms - now_ms))
    _sub(item, "Title", auction.title)
    pictures = _sub(item, "PictureDetails")
    _sub(pictures, "GalleryURL", views.image_url(auction, origin))


def _watch_list(
    root: ET.Element, request_root: ET.Element, sim: Simulator, username: str, origin: str
) -> None:
    wanted = request_root.find(_q("WatchList"))
    if wanted is None or (wanted.findtext(_q("Include")) or "true").strip() != "true":
        return
    pagination = wanted.find(_q("Pagination"))
    per_page = min(_int_field(pagination, _q("EntriesPerPage"), 25), MAX_ENTRIES_PER_PAGE)
    page = _int_field(pagination, _q("PageNumber"), 1)
    with sim.lock:
        items = sim.watchlist(username)
        now = sim.now_ms()
        watch = _sub(root, "WatchList")
        if items:
            array = _sub(watch, "ItemArray")
            for auction in items[(page - 1) * per_page : page * per_page]:
                _item(array, auction, now, origin)
        result = _sub(watch, "PaginationResult")
        _sub(result, "TotalNumberOfPages", str(math.ceil(len(items) / per_page)))
        _sub(result, "TotalNumberOfEntries", str(len(items)))


@routes.post("/ws/api.dll")
async def trading_call(request: web.Request) -> web.Response:
    sim = sim_of(request)
    call = request.headers.get("X-EBAY-API-CALL-NAME", "")
    name = call or "GetMyeBayBuying"
    try:
        if call != "GetMyeBayBuying":
            raise TradingFailure(
                2,
                "Unsupported API call.",
                f'The API call "{call}" is invalid or not supported in this release.',
            )
        token = request.headers.get("X-EBAY-API-IAF-TOKEN", "")
        caller = sim.authenticate(token) if token else None
        if caller is None or caller.username is None:
            raise TradingFailure(
                931,
                "Auth token is invalid.",
                "Validation of the authentication token in API request failed.",
            )
        request_root = parse_request(await request.read())
        if request_root.tag != _q("GetMyeBayBuyingRequest"):
            raise TradingFailure(
                5,
                "XML Parse error.",
                "XML Error Text: the root element must be GetMyeBayBuyingRequest.",
            )
        root = _envelope(name, sim, "Success")
        _sub(root, "Version", VERSION)
        _sub(root, "Build", BUILD)
        _watch_list(root, request_root, sim, caller.username, origin_of(request))
        return _xml_response(root)
    except TradingFailure as failure:
        return failure_response(sim, name, failure)
