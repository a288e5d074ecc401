"""Schemathesis against /openapi.json on the local stack: every operation, its coverage phase
(undeclared methods and content types among it), positive and negative data, a fixed seed, a
small budget (bench/fuzz_api.py runs a large one).

Every check schemathesis has judges every answer: nothing answers a 5xx, every response matches
the document (status code, content type, headers, body schema), invalid data gets a 4xx, valid
data is accepted. See fuzzing.py for what is checked and why.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.testing import RunningStack, link_ebay_account
from rest.openapi import build_openapi
from tests.integration.hostile.fuzzing import (
    all_checks,
    fuzz_operation,
    load_schema,
    operation_order,
)
from tests.integration.hostile.hostile_helpers import User, api, new_auction, sign_up

pytestmark = pytest.mark.e2e

EXAMPLES_PER_MODE = 25
# The document the gateway serves is rest.openapi's; collecting from it means a new route gets
# fuzzed without anyone adding it here (tests/unit/test_architecture.py checks that the document
# has every HTTP route of template.yaml).
OPERATIONS = operation_order(build_openapi())


@pytest.fixture(scope="module")
def fuzzer(running: RunningStack) -> dict[str, Any]:
    """A user with a linked eBay account, a watch list and two snipes, so the fuzzer meets
    real ids and full responses, not only 404s."""
    user: User = sign_up(running, "fuzz")
    ebay_user = f"fuzz_{user.sub[:8]}"
    auctions = [new_auction(running, watchedBy=[ebay_user], bots=False) for _ in range(2)]
    with api(running) as http:
        link_ebay_account(http, user.headers, ebay_user)
        bid_ids = [
            http.post(
                "/bids",
                headers=user.headers,
                json={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 5000},
            ).json()["bidId"]
            for auction in auctions
        ]
    return {
        "schema": load_schema(running.base_url),
        "user": user,
        "known": {
            "bidId": bid_ids,
            "itemId": [a["legacyItemId"] for a in auctions] + [a["itemId"] for a in auctions],
        },
    }


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_answers_as_documented(
    running: RunningStack, fuzzer: dict[str, Any], method: str, path: str
) -> None:
    # Given a signed-in user with real snipes and watched items
    # When schemathesis sends its coverage phase (boundaries, undeclared methods and content
    # types) and valid and invalid requests to the operation
    result = fuzz_operation(
        fuzzer["schema"],
        method,
        path,
        base_url=running.base_url,
        headers=fuzzer["user"].headers,
        max_examples=EXAMPLES_PER_MODE,
        known_path_values=fuzzer["known"],
    )
    # Then every response passed every check schemathesis has: a documented, well-formed,
    # non-5xx answer, valid data accepted (UNSTATABLE apart), invalid data refused
    assert result.examples > 0
    assert not result.failures, "\n\n".join(
        f"[{mode}] {title}\n{report}" for (mode, title), report in result.failures.items()
    )
    assert all(status < 500 for status in result.statuses)


def test_a_created_snipe_answers_as_documented(
    running: RunningStack, fuzzer: dict[str, Any]
) -> None:
    # Given a user of its own with a linked eBay account (the fuzzed DELETE /users/account has
    # deleted the fuzzer's user), and an auction eBay has (random item numbers never exist, so
    # fuzzing never gets a 201)
    user = sign_up(running, "fuzz-create")
    with api(running) as http:
        link_ebay_account(http, user.headers, f"fuzzc_{user.sub[:8]}")
    auction = new_auction(running, bots=False)
    case = fuzzer["schema"]["/bids"]["POST"].Case(
        body={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 5000, "leadSeconds": 4}
    )
    # When the snipe is created
    response = case.call(base_url=running.base_url, headers=user.headers, timeout=30)
    # Then the 201 matches the document
    assert response.status_code == 201, response.text
    case.validate_response(response, checks=all_checks())


def test_every_check_schemathesis_has_judges_the_fuzzed_answers() -> None:
    # Given the checks the harness runs
    names = {check.__name__ for check in all_checks()}
    # Then none is left out: valid data accepted, undeclared methods and content types, auth
    assert names >= {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
    }
