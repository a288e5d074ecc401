"""What the chaos runs share: the scheduling constants compressed so a run takes about a minute."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def compressed_time() -> Iterator[None]:
    """EventBridge Scheduler at one-second precision, waking 9 s before the fire time; the
    outcome follow-up 5 s later, and a live claim taken over 2 s after the end (the simulator's
    clock is not skewed here). Every rule is unchanged, only the durations shrink."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("common.scheduling.SCHEDULER_PRECISION_SECONDS", 1)
        patch.setattr("common.scheduling.WAKE_LEAD_SECONDS", 8)
        patch.setattr("common.scheduling.INVOKE_NOW_WITHIN_SECONDS", 12)
        patch.setattr("workers.logic.snipe_engine.OUTCOME_RETRY_DELAY_SECONDS", 5)
        patch.setattr("workers.logic.snipe_engine.TAKEOVER_AFTER_END_SECONDS", 2)
        yield
