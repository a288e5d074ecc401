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
    "rest.marketplace_deletion",
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
    _request_shape_responses(document)
    return dict(document)


def _schema_ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _request_shape_responses(document: dict[str, Any]) -> None:
    """What any request may be answered for its shape rather than its content: the gateway's
    414 for a request line over its limit (before any function runs), and, where a body is
    read, 415 for a body that is not application/json (rest/app.py)."""
    for path_item in document["paths"].values():
        for operation in path_item.values():
            responses = operation["responses"]
            responses["414"] = {
                "description": "The request line is longer than the gateway reads",
                "content": _schema_ref("GatewayMessage"),
            }
            if "requestBody" in operation:
                responses["415"] = {
                    "description": "The body is not application/json",
                    "content": _schema_ref("ErrorBody"),
                }
