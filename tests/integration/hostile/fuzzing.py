"""Schemathesis against the local stack's OpenAPI document, shared by the test (a small budget)
and bench/fuzz_api.py (a large one).

Every operation of ``/openapi.json`` is called with a signed-up user's Bearer id token, with
schema-valid (positive) and schema-invalid (negative) requests, a fixed seed and a bounded
number of examples. Each response is checked by schemathesis for: no 5xx, a documented status
code, a documented content type and headers, a body matching the documented schema, and a 4xx
for invalid data. ``positive_data_acceptance`` is left out on purpose: a schema cannot say that
an eBay item exists, that a cursor was signed by us, that a time zone name is real or that an
OAuth state was issued; those schema-valid requests are rightly refused with a 4xx.

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
from schemathesis.checks import positive_data_acceptance

SEED = 20_260_808
# The local gateway (aiohttp) refuses a request line over 8,190 bytes before routing (a plain
# text 400), as API Gateway refuses URLs over its own limit; such cases say nothing about the
# product and are skipped, and counted.
REQUEST_LINE_LIMIT = 8_000
# Run last: they remove what the other operations work on.
DESTRUCTIVE = (("DELETE", "/ebay/auth/unlink"), ("DELETE", "/users/account"))


@dataclass
class OperationResult:
    label: str
    examples: int = 0
    skipped: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    # (mode, failure title) -> the first report schemathesis gave for it
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


def operation_order(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the document, the destructive ones last."""
    operations = [
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
        if method.lower() in ("get", "put", "post", "delete", "patch")
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
    return schema


def _request_line_length(case: Any, base_url: str) -> int:
    prepared = requests.Request(
        case.method, f"{base_url}{case.formatted_path}", params=case.query or None
    ).prepare()
    return len(prepared.path_url or "")


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
    modes: Iterable[GenerationMode] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
) -> OperationResult:
    """Run ``max_examples`` examples per generation mode against one operation."""
    operation = schema[path][method]
    result = OperationResult(label=f"{method} {path}")
    for mode in modes:
        strategies = [operation.as_strategy(mode)]
        for name, values in (known_path_values or {}).items():
            if values and f"{{{name}}}" in path:
                # Real ids too (the user's own snipes, live items), not only random strings.
                strategies += [
                    operation.as_strategy(mode, path_parameters={name: value}) for value in values
                ]
        strategy = st.one_of(strategies)

        _run(strategy, mode.value, result, base_url, headers, max_examples, seed)
    return result


def _run(
    strategy: st.SearchStrategy[Any],
    mode: str,
    result: OperationResult,
    base_url: str,
    headers: Mapping[str, str],
    max_examples: int,
    seed: int,
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
        if _request_line_length(case, base_url) > REQUEST_LINE_LIMIT:
            result.skipped += 1
            return
        result.examples += 1
        response = case.call(base_url=base_url, headers=dict(headers), timeout=30)
        result.statuses[response.status_code] += 1
        try:
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                headers=dict(headers),
                transport_kwargs={"base_url": base_url, "headers": dict(headers), "timeout": 30},
            )
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup
            for failure in group.exceptions:
                key = (mode, getattr(failure, "title", type(failure).__name__))
                result.failures.setdefault(key, str(group))

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
