"""The executor's database ports, with their next calls unanswered in time.

Where ``tests/dynamo_faults.py`` plays one late answer on the wire (botocore's repeat then
finds the write done), this plays what the caller sees when both of botocore's attempts time
out: ``RetryableError``. ``SlowDatabase.arm(k)`` makes the next ``k`` calls through its ports
raise it, either before the call (nothing happened) or, with ``applied=True``, after a write
went in (or was refused: the answer is lost either way). Reads are never applied. It wraps the
in-memory repositories of the unit tests and moto's of the money path model alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any

from common.errors import DomainError, RetryableError

Wait = Callable[[float], None]

# The writes through the ports (BidStore, GroupSlotLedger): the executor's and POST /bids'
# create; everything else is a read.
WRITES = frozenset({"transition", "replace", "seal", "take", "settle", "create"})
# What a call that is never answered costs its caller: two attempts of 1 s (common/aws.py).
GIVE_UP_AFTER_S = 2.0


class SlowDatabase:
    """``port(repository)`` and ``tokens(source)`` wrap the ports; ``arm`` sets the next calls
    that time out; ``timed_out`` lists the calls it did that to (``name`` or ``name (applied)``),
    ``calls`` every call through its ports, in order."""

    def __init__(self) -> None:
        self.armed = 0
        self.applied = False
        self.only: frozenset[str] | None = None
        self.timed_out: list[str] = []
        self.calls: list[str] = []

    def arm(self, calls: int = 1, *, applied: bool = False, only: Iterable[str] = ()) -> None:
        """The next ``calls`` calls (of the methods in ``only``, if given) get no answer in
        time; with ``applied``, a write among them goes in first."""
        self.armed = calls
        self.applied = applied
        self.only = frozenset(only) or None

    def port(self, inner: Any, wait: Wait | None = None) -> Any:
        """``inner``'s methods through this; ``wait`` (a run's sleep) is given the time a call
        that is never answered costs, GIVE_UP_AFTER_S; without it, none passes."""
        return _SlowPort(self, inner, wait)

    def tokens(self, inner: Callable[..., Any], wait: Wait | None = None) -> Callable[..., Any]:
        """The executor's TokenSource: it reads the user's eBay link from the database."""

        def source(*args: Any, **kwargs: Any) -> Any:
            return self.call("tokens", lambda: inner(*args, **kwargs), wait)

        return source

    def call(self, name: str, call: Callable[[], Any], wait: Wait | None = None) -> Any:
        self.calls.append(name)
        if self.armed <= 0 or (self.only is not None and name not in self.only):
            return call()
        self.armed -= 1
        applied = self.applied and name in WRITES
        self.timed_out.append(f"{name} (applied)" if applied else name)
        if applied:
            # Refused or not, its answer is lost too.
            with suppress(DomainError):
                call()
        if wait is not None:
            wait(GIVE_UP_AFTER_S)
        raise RetryableError("The database did not answer in time; try again")


class _SlowPort:
    def __init__(self, slow: SlowDatabase, inner: Any, wait: Wait | None) -> None:
        self._slow = slow
        self._inner = inner
        self._wait = wait

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._slow.call(name, lambda: attribute(*args, **kwargs), self._wait)

        return method
