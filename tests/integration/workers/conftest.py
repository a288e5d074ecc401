"""Workers against moto's tables (from template.yaml), with fakes for eBay, Postmark and Lambda."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.aws import Provisioned
from local.lambda_runtime import new_containers


@pytest.fixture
def workers_env(clean_tables: Provisioned) -> Iterator[Provisioned]:
    new_containers()
    yield clean_tables
    new_containers()
