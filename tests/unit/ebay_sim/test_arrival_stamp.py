"""A request's arrival at "eBay" is when its bytes reached the simulator, not when its event
loop got round to the handler (local/ebay_sim/server.py)."""

from __future__ import annotations

import time
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from local.ebay_sim import server
from local.ebay_sim.http_common import SIM_KEY
from local.ebay_sim.simulator import Simulator
from local.ebay_sim.testing import TEST_CONFIG


def _request(protocol: object) -> web.Request:
    app = web.Application()
    app[SIM_KEY] = Simulator(TEST_CONFIG)
    return make_mocked_request("GET", "/buy/browse/v1/item/x", app=app, protocol=protocol)


def test_a_request_handled_late_is_dated_when_its_bytes_arrived():
    # Given a request whose bytes were read 250 ms before its handler ran
    protocol = mock.Mock()
    protocol.bytes_at_ns = time.time_ns() - 250000000
    request = _request(protocol)
    # When its arrival is taken
    before = request.app[SIM_KEY].now_ms()
    arrived = server._taken_up_ms(request)
    # Then it is the moment its bytes arrived, not now
    assert arrived <= before - 250


def test_without_a_stamp_the_arrival_is_now():
    # Given a connection that noted no read (a test client without the stamping server)
    protocol = mock.Mock()
    delattr(protocol, "bytes_at_ns")
    request = _request(protocol)
    # When its arrival is taken
    before = request.app[SIM_KEY].now_ms()
    arrived = server._taken_up_ms(request)
    # Then it is now
    assert before <= arrived <= request.app[SIM_KEY].now_ms()
