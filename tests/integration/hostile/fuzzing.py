"""Schemathesis against the local stack's OpenAPI document, shared by the test (a small budget)
and bench/fuzz_api.py (a large one).

Every operation of ``/openapi.json`` is called with a signed-up user's Bearer id token, a fixed
seed and a bounded number of examples, in three kinds of request:

- schemathesis' coverage phase: each parameter and body field at its boundaries and just past
  them, missing and duplicated parameters, every method the document does not declare for the
  path (PATCH, TRACE, QUERY, ...), and bodies sent with an undeclared or malformed
  ``Content-Type``;
- schema-valid (positive) and schema-invalid (negative) requests drawn by Hypothesis.

Every response is checked by every check schemathesis has (``ALL_CHECKS``; a test fails if one
is left out): no 5xx, a documented status code, content type, headers and body schema, a 4xx for
invalid data, a 2xx/404/409 for valid data, 405 with ``Allow`` for an undeclared method, 415 for
an undeclared body type, the missing token refused, and the stateful checks.

Two refinements, both narrow and counted apart:

- ``negative_data_rejection`` also takes the gateway's 414 as a refusal (an over-long request
  line is refused before any function runs, as API Gateway does);
- a valid request refused for what no schema can state (``UNSTATABLE``), naming only such
  fields, is counted as ``unstatable``, not as a failure; any other refusal of valid data is
  one.

Failures are collected, not raised inside Hypothesis, so every example of the budget runs and
the caller gets figures: operations, examples, failures.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.overrides import Override
from schemathesis.openapi.checks import RejectedPositiveData

SEED = 20_260_808
# (field, status): what a schema cannot say, so schema-valid data is rightly refused, naming the
# field: a cursor this API did not sign (or signed for another listing), an eBay item number
# eBay does not have, an OAuth state this API did not issue or already spent, an email other
# than the caller's verified sign-in address.
# And a time range starting after its end: OpenAPI cannot relate two parameters; an address
# the email format allows at a special-use domain (.test, .invalid: RFC 6761), which the email
# validator refuses; and a snipe's maximum lowered below its auction's current price (PUT
# /bids/{bidId}: the price is eBay's, and moves).
UNSTATABLE = {
    ("cursor", 400),
    ("maxBidAmount", 400),
    ("ebayItemId", 422),
    ("state", 400),
    ("email", 400),
    ("from", 422),
    ("email", 422),
}
# JSON Schema counts 5000.0 as an integer; the API refuses a float where it wants an integer
# (tests/integration/hostile/test_payloads.py, "integral float"), on purpose.
FLOAT_FOR_INTEGER = "Input should be a valid integer"
# Run last: they remove what the other operations work on.
DESTRUCTIVE = (("DELETE", "/ebay/auth/unlink"), ("DELETE", "/users/account"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def all_checks() -> list[Any]:
    """Every check schemathesis registers, none left out."""
    load_all_checks()
    return list(CHECKS.get_all())


@dataclass
class OperationResult:
    label: str
    examples: int = 0
    # valid requests refused for what no schema can state (UNSTATABLE)
    unstatable: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    # (phase or mode, failure title) -> the first report schemathesis gave for it
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


def operation_order(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the document, the destructive ones last. Not eBay's
    notification endpoint (security: []): a schema-valid notice without eBay's signature is
    412 by design; tests/e2e/test_marketplace_account_deletion.py forges and alters them."""
    operations = [
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method.lower() in ("get", "put", "post", "delete", "patch")
        and operation.get("security") != []
    ]
    return sorted(
        operations,
        key=lambda op: (op in DESTRUCTIVE, DESTRUCTIVE.index(op) if op in DESTRUCTIVE else 0),
    )


def load_schema(base_url: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    # The caller's real token goes on every request (tokens are fuzzed in test_tokens.py), and
    # unknown query parameters are ignored, as by most HTTP APIs: OpenAPI cannot forbid them.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "414"]
    return schema


def unstatable(case: Any, response: Any) -> bool:
    """Whether a refusal of valid data names only fields whose validity no schema can state."""
    try:
        details = response.json()["error"]["details"]
        named = [(d["field"], d["message"]) for d in details]
    except (ValueError, KeyError, TypeError):
        return False
    body = case.body if isinstance(case.body, dict) else {}
    return bool(named) and all(
        (name, response.status_code) in UNSTATABLE
        or (message == FLOAT_FOR_INTEGER and isinstance(body.get(name), float))
        for name, message in named
    )


class _Runner:
    def __init__(self, result: OperationResult, base_url: str, headers: Mapping[str, str]) -> None:
        self.result = result
        self.base_url = base_url
        self.headers = dict(headers)
        self.checks = all_checks()

    def __call__(self, case: Any, label: str) -> None:
        self.result.examples += 1
        response = case.call(base_url=self.base_url, headers=self.headers, timeout=30)
        self.result.statuses[response.status_code] += 1
        try:
            case.validate_response(
                response,
                checks=self.checks,
                headers=self.headers,
                transport_kwargs={
                    "base_url": self.base_url,
                    "headers": self.headers,
                    "timeout": 30,
                },
            )
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup
            for failure in group.exceptions:
                if isinstance(failure, RejectedPositiveData) and unstatable(case, response):
                    self.result.unstatable += 1
                    continue
                key = (label, getattr(failure, "title", type(failure).__name__))
                self.result.failures.setdefault(key, str(group))


def fuzz_operation(
    schema: Any,
    method: str,
    path: str,
    *,
    base_url: str,
    headers: Mapping[str, str],
    max_examples: int,
    seed: int = SEED,
    known_path_values: Mapping[str, Sequence[str]] | None = None,
    modes: Iterable[GenerationMode] = MODES,
) -> OperationResult:
    """The coverage phase, then ``max_examples`` Hypothesis examples per generation mode."""
    operation = schema[path][method]
    result = OperationResult(label=f"{method} {path}")
    runner = _Runner(result, base_url, headers)
    modes = list(modes)
    for case in coverage_cases(operation, modes, known_path_values or {}):
        runner(case, "coverage")
    for mode in modes:
        strategies = [operation.as_strategy(mode)]
        for name, values in (known_path_values or {}).items():
            if values and f"{{{name}}}" in path:
                # Real ids too (the user's own snipes, live items), not only random strings.
                strategies += [
                    operation.as_strategy(mode, path_parameters={name: value}) for value in values
                ]
        _fuzz(st.one_of(strategies), mode.value, runner, max_examples, seed)
    return result


def coverage_cases(
    operation: Any, modes: list[GenerationMode], known_path_values: Mapping[str, Sequence[str]]
) -> list[Any]:
    """Schemathesis' coverage phase for the operation: once with generated path parameters,
    and once with each real id (so an undeclared method meets a resource that exists)."""
    overrides = [Override()]
    for name, values in known_path_values.items():
        if f"{{{name}}}" in operation.path:
            overrides += [Override(path_parameters={name: value}) for value in values]
    cases: list[Any] = []
    for override in overrides:
        generator = CoverageGenerator(
            operation=operation,
            generation_modes=modes,
            generation_config=operation.schema.config.generation_for(
                operation=operation, phase="coverage"
            ),
            auth_storage=None,
            override=override,
            feedback=NO_FEEDBACK,
        )
        cases.extend(generator)
    return cases


def _fuzz(
    strategy: st.SearchStrategy[Any], label: str, runner: _Runner, max_examples: int, seed: int
) -> None:
    @hypothesis.seed(seed)
    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        runner(case, label)

    # Unsatisfiable: nothing of this operation can be made invalid (no parameters, no body).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


@dataclass
class FuzzReport:
    results: list[OperationResult]
    seconds: float

    @property
    def examples(self) -> int:
        return sum(r.examples for r in self.results)

    @property
    def failures(self) -> int:
        return sum(len(r.failures) for r in self.results)

    @property
    def unstatable(self) -> int:
        return sum(r.unstatable for r in self.results)

    @property
    def server_errors(self) -> int:
        return sum(n for r in self.results for code, n in r.statuses.items() if code >= 500)


def fuzz_all(
    base_url: str,
    headers: Mapping[str, str],
    *,
    max_examples: int,
    seed: int = SEED,
    known_path_values: Mapping[str, Sequence[str]] | None = None,
) -> FuzzReport:
    started = time.monotonic()
    schema = load_schema(base_url)
    document = requests.get(f"{base_url}/openapi.json", timeout=30).json()
    results = [
        fuzz_operation(
            schema,
            method,
            path,
            base_url=base_url,
            headers=headers,
            max_examples=max_examples,
            seed=seed,
            known_path_values=known_path_values,
        )
        for method, path in operation_order(document)
    ]
    return FuzzReport(results=results, seconds=time.monotonic() - started)
