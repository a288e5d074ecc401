"""Logger and Metrics, created once and imported everywhere.

Tracing is Lambda's active X-Ray tracing (``Tracing: Active`` in template.yaml), which records
every invocation without the X-Ray SDK in the package: importing the SDK (through Powertools'
Tracer) added about 120 ms to every cold start (``bench/cold_start.py``), more than the rest of
a handler's init. The function name and cold-start flag are on every log line through
``logger.inject_lambda_context``.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

__all__ = ["logger", "metrics"]
