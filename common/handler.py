"""The decorators every Lambda handler wears, in the one fixed order STYLE.md asks for."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from common.settings import Environment, load

H = TypeVar("H", bound=Callable[..., Any])


def settings_validated(model: type[Environment]) -> Callable[[H], H]:
    """Fail the cold start, not a request, when one of the function's variables (``model``'s)
    is missing or wrong; the error names it. The handler keeps ``model`` as
    ``settings_model`` (the test of every function's settings against the template reads it)."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def validated(event: Any, context: Any) -> Any:
            load(model)
            return handler(event, context)

        validated.settings_model = model  # type: ignore[attr-defined]
        return validated  # type: ignore[return-value]

    return decorate
