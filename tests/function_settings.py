"""A function's settings model, as its handler declares it (``settings_validated(model)``)."""

from __future__ import annotations

import importlib

from common.settings import Environment


def settings_model(handler: str) -> type[Environment]:
    """The settings model of the template's ``Handler`` (``rest.bids.handler``)."""
    module, _, attribute = handler.rpartition(".")
    model = getattr(getattr(importlib.import_module(module), attribute), "settings_model", None)
    assert isinstance(model, type), f"{handler}: no settings model"
    assert issubclass(model, Environment), f"{handler}: no settings model"
    return model
