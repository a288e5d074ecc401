"""Workers against moto's tables (from template.yaml), with fakes for eBay, Postmark and Lambda."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.container import reset
from local.aws import Provisioned


@pytest.fixture
def workers_env(clean_tables: Provisioned) -> Iterator[Provisioned]:
    reset()
    yield clean_tables
    reset()
