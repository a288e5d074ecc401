"""`sniper smoke`'s create: one Idempotency-Key per snipe, sent again while the answer may have
been lost (local/smoke.py, create_once)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from local.smoke import CREATE_RETRY_PAUSES_S, create_once

URL = "https://api.example/bids"
BODY = {"ebayItemId": "123456789", "maxBidAmount": 150}


def _client(
    answers: list[Callable[[httpx.Request], httpx.Response]],
) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1](request)

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def _status(code: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, json={"bidId": "b1"}, request=request)


def _lost(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


def test_a_lost_answer_and_a_503_are_sent_again_with_the_same_key():
    # Given an API whose first answer never arrives and whose second is 503
    client, seen = _client([_lost, _status(503), _status(201)])
    pauses: list[float] = []
    # When the command creates its snipe
    answer = create_once(client, URL, BODY, {"Authorization": "Bearer t"}, pauses.append)
    # Then it sent the create three times with one key, paused between, and has the 201
    assert answer.status_code == 201
    keys = {request.headers["Idempotency-Key"] for request in seen}
    assert len(seen) == 3
    assert len(keys) == 1
    assert pauses == list(CREATE_RETRY_PAUSES_S[:2])
    assert all(request.headers["Authorization"] == "Bearer t" for request in seen)


def test_an_answer_that_settles_it_is_not_retried():
    # Given an API that refuses the create
    client, seen = _client([_status(409)])
    pauses: list[float] = []
    # When the command creates its snipe
    answer = create_once(client, URL, BODY, {}, pauses.append)
    # Then that answer is the command's, at once
    assert answer.status_code == 409
    assert (len(seen), pauses) == (1, [])


def test_each_create_has_a_key_of_its_own_and_the_retries_run_out():
    # Given an API that is unavailable throughout
    client, seen = _client([_status(503)] * 8)
    # When two creates are made
    first = create_once(client, URL, BODY, {}, lambda _: None)
    create_once(client, URL, BODY, {}, lambda _: None)
    # Then each gave up after its retries with the last 503, under a key of its own
    assert first.status_code == 503
    keys = [request.headers["Idempotency-Key"] for request in seen]
    assert len(keys) == 2 * (len(CREATE_RETRY_PAUSES_S) + 1)
    assert len(set(keys)) == 2


def test_a_transport_error_on_the_last_attempt_is_raised():
    client, seen = _client([_lost] * 4)
    with pytest.raises(httpx.ReadTimeout):
        create_once(client, URL, BODY, {}, lambda _: None)
    assert len(seen) == 4
