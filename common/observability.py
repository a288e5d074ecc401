"""Logger and Metrics, created once and imported everywhere.

Tracing is Lambda's active X-Ray tracing (``Tracing: Active`` in template.yaml), which records
every invocation without the X-Ray SDK in the package: importing the SDK (through Powertools'
Tracer) added about 120 ms to every cold start (``bench/cold_start.py``), more than the rest of
a handler's init. The function name and cold-start flag are on every log line through
``logger.inject_lambda_context``.

botocore's DEBUG lines are whole AWS requests and responses: users' items with their email
addresses, SSM parameters' decrypted values. A function put at DEBUG (Lambda's application log
level sets the root logger's) must not write them, so botocore logs from INFO up whatever the
root logger's level.
"""

import logging

from aws_lambda_powertools import Logger, Metrics

logging.getLogger("botocore").setLevel(logging.INFO)

logger = Logger()
metrics = Metrics()

__all__ = ["logger", "metrics"]
