"""Workers against moto's tables (from template.yaml), with fakes for eBay, Postmark and Lambda."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.aws import Provisioned
from workers import wiring


@pytest.fixture
def workers_env(clean_tables: Provisioned) -> Iterator[Provisioned]:
    wiring.clear_caches()
    yield clean_tables
    wiring.clear_caches()
