"""One OpenAPI document for the whole HTTP API, merged from every function's router."""

from __future__ import annotations

import importlib
import json
from typing import Any

from rest.app import create_app

# Every REST module that exposes a `router`; a test checks this matches template.yaml.
REST_MODULES = (
    "rest.users",
    "rest.bids",
    "rest.groups",
    "rest.history",
    "rest.ebay_auth",
    "rest.wishlist",
)


def build_openapi() -> dict[str, Any]:
    app = create_app()
    for name in REST_MODULES:
        app.include_router(importlib.import_module(name).router)
    document = json.loads(
        app.get_openapi_json_schema(
            title="eBay Sniper API",
            version="1.0.0",
            description="Snipes, groups, history, profile and eBay linking. Amounts are cents.",
        )
    )
    document.setdefault("components", {})["securitySchemes"] = {
        "cognito": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    document["security"] = [{"cognito": []}]
    return dict(document)
