"""Fakes of the ports that logic takes, shared by tests that do not care what they did. The
repositories' in-memory stand-ins are in tests/memory.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rest.logic.caps import ActiveSnipeCap


class FakeScheduler:
    """common.scheduling.SnipeScheduler: records what it was asked, schedules nothing."""

    def __init__(self) -> None:
        self.woken: list[str] = []
        self.outcome_checks: list[str] = []
        self.cancelled: list[str] = []

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        self.woken.append(bid_id)
        return "schedule"

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        self.outcome_checks.append(bid_id)

    def cancel(self, bid_ids: Iterable[str]) -> None:
        self.cancelled += list(bid_ids)


class FakeSocketCloser:
    """rest.logic.users.SocketCloser."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    def disconnect(self, connection_id: str) -> None:
        self.closed.append(connection_id)


class FakeIdentities:
    """rest.logic.users.Identities."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete(self, username: str) -> bool:
        self.deleted.append(username)
        return True


class FakeActiveCount:
    """rest.logic.caps.ActiveCount of a user with no active snipes."""

    def count(self, user_id: str) -> int:
        return 0

    def soonest_end(self, user_id: str, now: int) -> int | None:
        return None


# More active snipes than any test creates: a cap for tests that are not about the cap.
ROOMY = 1_000_000


def roomy_cap() -> ActiveSnipeCap:
    return ActiveSnipeCap(FakeActiveCount(), ROOMY)


@dataclass(frozen=True)
class AccountParts:
    """The eight ports account deletion takes (rest.logic.users.AccountPorts), for tests that
    build them from repositories and fakes instead of the users function's composition root."""

    users: Any
    bids: Any
    history: Any
    connections: Any
    groups: Any
    scheduler: Any
    socket_closer: Any
    identities: Any
