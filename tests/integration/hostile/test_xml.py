"""Hostile XML on both sides of the Trading API watch list: the simulator's endpoint
(local/ebay_sim/trading.py) reading requests, and the product's parser (common/ebay/trading.py)
reading eBay's answers. Entity expansion (billion laughs, quadratic blowup) and external
references (file:///etc/passwd, an http:// entity, an external DTD, a parameter entity) do
nothing, in UTF-8 and UTF-16: a clean parse error, no file content in any answer, and not
one request to the URLs the documents point at. XInclude elements, well-formed XML, are
inert: read as unknown elements, never followed.

Already covered, in UTF-8 only: tests/integration/ebay_sim/test_sim_trading.py (a bomb and a
bare entity declaration sent to the simulator) and tests/unit/ebay/test_ebay_watch_list.py
(a bomb and a file:// entity given to the product's client).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from common.ebay.errors import EbayProtocolError
from common.ebay.trading import parse_watch_list
from local.ebay_sim.config import API_SCOPE
from local.ebay_sim.testing import running_simulator
from local.testing import serving_app

pytestmark = pytest.mark.integration

NS = "urn:ebay:apis:eBLBaseComponents"
DECL = '<?xml version="1.0" encoding="{encoding}"?>\n'
REQUEST = f'<GetMyeBayBuyingRequest xmlns="{NS}"><WatchList><Include>true</Include></WatchList>'
RESPONSE = f'<GetMyeBayBuyingResponse xmlns="{NS}"><Ack>Success</Ack>'


def _documents(root_open: str, root_close: str, trap: str) -> dict[str, str]:
    """Hostile documents around a root element; ``trap`` is a URL nothing may fetch."""
    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return {
        "billion laughs": f"<!DOCTYPE r [{laughs}]>{root_open}&lol9;{root_close}",
        "quadratic blowup": (
            f'<!DOCTYPE r [<!ENTITY a "{"a" * 50_000}">]>{root_open}{"&a;" * 5_000}{root_close}'
        ),
        "file entity": (
            f'<!DOCTYPE r [<!ENTITY s SYSTEM "file:///etc/passwd">]>{root_open}&s;{root_close}'
        ),
        "http entity": (
            f'<!DOCTYPE r [<!ENTITY s SYSTEM "{trap}/entity">]>{root_open}&s;{root_close}'
        ),
        "external DTD": f'<!DOCTYPE r SYSTEM "{trap}/dtd">{root_open}{root_close}',
        "parameter entity": (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{trap}/param"> %p;]>{root_open}{root_close}'
        ),
    }


def _xinclude(root_open: str, root_close: str, trap: str) -> str:
    """Well-formed, no DTD: nothing refuses it, and nothing may act on it either."""
    xi = 'xmlns:xi="http://www.w3.org/2001/XInclude"'
    return (
        f'{root_open}<xi:include {xi} href="file:///etc/passwd" parse="text"/>'
        f'<xi:include {xi} href="{trap}/xinclude"/>{root_close}'
    )


ENCODINGS = ("UTF-8", "UTF-16")


def _encoded(document: str, encoding: str) -> bytes:
    return (DECL.format(encoding=encoding) + document).encode(encoding.lower())


@pytest.fixture(scope="module")
def trap() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server that records every request: the URL hostile documents point at."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text='<!ENTITY leak "fetched">', content_type="text/xml")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    with serving_app(app) as url:
        yield url, hits


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, str]]:
    """The simulator and a user token whose watch list holds one auction."""
    with running_simulator() as (sim, base_url):
        sim.create_auction("Secret Leica", 1000, sim.now_ms() + 3_600_000, watched_by=["alice"])
        access, _ = sim.exchange_code(
            sim.issue_code("alice", frozenset({API_SCOPE})), sim.config.ru_name
        )
        yield base_url, access.token


def test_the_simulator_refuses_hostile_requests_and_fetches_nothing(
    trap: tuple[str, list[str]], simulator: tuple[str, str]
) -> None:
    url, hits = trap
    base_url, token = simulator
    for name, document in _documents(REQUEST, "</GetMyeBayBuyingRequest>", url).items():
        for encoding in ENCODINGS:
            # When a watch-list request carries hostile XML
            response = httpx.post(
                f"{base_url}/ws/api.dll",
                content=_encoded(document, encoding),
                headers={
                    "X-EBAY-API-CALL-NAME": "GetMyeBayBuying",
                    "X-EBAY-API-IAF-TOKEN": token,
                    "Content-Type": "text/xml",
                },
                timeout=30,
            )
            # Then eBay's XML parse error, no watch list and nothing of the file
            label = f"{name} in {encoding}"
            assert response.status_code == 200, label
            root = parse_failure(response.content)
            assert root == "5", f"{label}: {response.text[:300]}"
            assert "Secret Leica" not in response.text, label
            assert "root:" not in response.text, label
    # And an XInclude is not followed: the watch list comes back, without the file
    response = httpx.post(
        f"{base_url}/ws/api.dll",
        content=_encoded(_xinclude(REQUEST, "</GetMyeBayBuyingRequest>", url), "UTF-8"),
        headers={"X-EBAY-API-CALL-NAME": "GetMyeBayBuying", "X-EBAY-API-IAF-TOKEN": token},
        timeout=30,
    )
    assert parse_failure(response.content) is None
    assert "Secret Leica" in response.text
    assert "root:" not in response.text
    # And no document got the simulator to fetch anything
    assert hits == []


def parse_failure(body: bytes) -> str | None:
    """The ErrorCode of a Trading API failure answer (parsed safely, it is ours)."""
    from defusedxml.ElementTree import fromstring

    root = fromstring(body)
    ack = root.findtext(f"{{{NS}}}Ack")
    if ack != "Failure":
        return None
    return root.findtext(f"{{{NS}}}Errors/{{{NS}}}ErrorCode")


def test_the_product_refuses_hostile_answers_and_fetches_nothing(
    trap: tuple[str, list[str]],
) -> None:
    url, hits = trap
    for name, document in _documents(RESPONSE, "</GetMyeBayBuyingResponse>", url).items():
        for encoding in ENCODINGS:
            body = _encoded(document, encoding)
            # When eBay's watch-list answer is hostile
            with pytest.raises(EbayProtocolError) as refused:
                parse_watch_list(body, page=1)
            # Then it is an unreadable answer, said without echoing the document
            assert "unreadable Trading API response" in str(refused.value), name
            assert "passwd" not in str(refused.value)
    # And an XInclude in an answer is read as an unknown element, never followed
    inert = _xinclude(RESPONSE, "</GetMyeBayBuyingResponse>", url)
    page = parse_watch_list(_encoded(inert, "UTF-8"), page=1)
    assert page.items == []
    assert "root:" not in repr(page)
    # And nothing was fetched
    assert hits == []
