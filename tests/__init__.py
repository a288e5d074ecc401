"""Test package. The service name is fixed before any product module creates its logger.

On Lambda, POWERTOOLS_SERVICE_NAME is in the environment before any import (the template sets
it), so child loggers (``Logger(child=True)``) attach to the service's logger. Tests import
modules in varying orders, so the same is arranged here, before anything else is imported.
"""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ebay-sniper")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EbaySniper")
