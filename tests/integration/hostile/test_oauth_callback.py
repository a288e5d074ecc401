"""POST /ebay/auth/callback under attack, through the gateway with real tokens.

Already covered, not repeated here: a replayed, forged, expired or another user's state is
refused and changes nothing, and another user's state stays usable by its owner
(tests/integration/rest/test_rest_ebay_auth.py); another user's state through the gateway
(test_isolation.py). Added: a state raced by two callbacks, a state spent on a code eBay
refused, and forged states shaped like the keys states are stored under.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest

from local.testing import RunningStack
from tests.integration.hostile.hostile_helpers import User, api, footprint, sign_up

pytestmark = pytest.mark.e2e

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _consent(http: httpx.Client, user: User, ebay_user: str) -> tuple[str, str]:
    """Ask for the consent URL, approve on the simulator's page: (code, state)."""
    auth_url = http.get("/ebay/auth/url", headers=user.headers).json()["authUrl"]
    page = httpx.get(auth_url, timeout=10)
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    form.update(username=ebay_user, password="anything", approve="yes")
    answer = httpx.post(urljoin(auth_url, "/oauth2/authorize"), data=form, timeout=10)
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    return query["code"][0], query["state"][0]


def _callback(http: httpx.Client, user: User, code: str, state: str) -> httpx.Response:
    return http.post(
        "/ebay/auth/callback", headers=user.headers, json={"code": code, "state": state}
    )


def _fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


def _status(http: httpx.Client, user: User) -> dict[str, Any]:
    return dict(http.get("/ebay/auth/status", headers=user.headers).json())


def test_two_racing_callbacks_with_one_state_link_once(running: RunningStack) -> None:
    user = sign_up(running, "racer")
    with api(running) as http:
        # Given a fresh state and code
        code, state = _consent(http, user, f"racer_{user.sub[:8]}")
        # When two callbacks carry them at once
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: _callback(http, user, code, state), range(2)))
        # Then one links and the other is refused on the state: it is single-use
        assert sorted(r.status_code for r in answers) == [200, 400]
        refused = next(r for r in answers if r.status_code == 400)
        assert _fields(refused) == ["state"]
        assert _status(http, user)["isLinked"] is True


def test_a_state_spent_on_a_refused_code_cannot_be_replayed(running: RunningStack) -> None:
    user = sign_up(running, "refused")
    with api(running) as http:
        # Given a state the dashboard posts with a code eBay does not know
        _code, state = _consent(http, user, f"refused_{user.sub[:8]}")
        before = footprint(running, user)
        first = _callback(http, user, "not-a-code-ebay-issued", state)
        # Then eBay's refusal names the code and nothing is linked
        assert first.status_code == 400, first.text
        assert _fields(first) == ["code"]
        assert _status(http, user)["isLinked"] is False
        # And the state is spent: replaying it, even with a good code, is refused on the state
        good_code, _ = _consent(http, user, f"refused_{user.sub[:8]}")
        replay = _callback(http, user, good_code, state)
        assert replay.status_code == 400
        assert _fields(replay) == ["state"]
        assert _status(http, user)["isLinked"] is False
        assert footprint(running, user) == before


def test_forged_states_shaped_like_stored_keys_are_refused(running: RunningStack) -> None:
    user = sign_up(running, "forger")
    victim = sign_up(running, "owner")
    with api(running) as http:
        code, real_state = _consent(http, user, f"forger_{user.sub[:8]}")
        _, victims_state = _consent(http, victim, f"owner_{victim.sub[:8]}")
        before = footprint(running, user)
        forged = [
            user.sub,  # the key of the caller's own profile item
            victim.sub,
            f"OAUTHSTATE#{real_state}",  # the stored key of a real state, prefixed once more
            f"OAUTHSTATE#{victims_state}",
            real_state.upper() if real_state.upper() != real_state else real_state.lower(),
            real_state[:-1],
            real_state + "=",
            "*",
            "OAUTHSTATE#",
        ]
        for state in forged:
            # When a forged state comes with a real code
            response = _callback(http, user, code, state)
            # Then it is refused on the state, and nothing is linked
            assert response.status_code == 400, f"{state!r}: {response.text}"
            assert _fields(response) == ["state"]
        assert _status(http, user)["isLinked"] is False
        assert footprint(running, user) == before
        # And the real state still works for its owner: the forgeries spent nothing
        assert _callback(http, user, code, real_state).status_code == 200
