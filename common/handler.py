"""The decorators every Lambda handler wears, in the one fixed order STYLE.md asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from common.settings import get_settings


@lambda_handler_decorator
def settings_validated(handler: Callable[..., Any], event: Any, context: Any) -> Any:
    """Fail the cold start, not a request, when configuration is missing or wrong."""
    get_settings()
    return handler(event, context)
