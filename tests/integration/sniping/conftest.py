"""The executor's world (moto's tables, the simulator, a linked user), shared by the sniping
tests: defined in test_bid_executor.py, where its helpers live."""

from tests.integration.sniping.test_bid_executor import sim, world  # noqa: F401
