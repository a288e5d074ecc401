"""Logger, Tracer and Metrics, created once and imported everywhere.

The service name comes from POWERTOOLS_SERVICE_NAME; the function name is added to every log line
by ``logger.inject_lambda_context``.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
