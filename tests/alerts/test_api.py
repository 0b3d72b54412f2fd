"""The subscription API over ASGI, in-process (httpx is not installed: a small ASGI caller does it)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI

from .conftest import ServiceFactory
from .helpers import asgi_call, event

HOOK = {
    "name": "desk-hook",
    "channel": "webhook",
    "webhook_url": "https://93.184.216.34/hook",
    "webhook_secret": "super-secret-value-123",
    "topics": ["sanctions"],
}


def app_for(router: Any) -> FastAPI:
    app = FastAPI(openapi_url="/api/openapi.json")
    app.include_router(router)
    return app


async def test_crud_roundtrip_never_returns_the_secret(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = await make_service(allow_private_webhooks=False)
    app = app_for(svc.router())
    status, created = await asgi_call(app, "POST", "/api/v1/subscriptions", json_body=HOOK)
    assert status == 201, created
    sub_id = created["id"]
    assert created["webhook_secret_set"] is True and "webhook_secret" not in created
    assert created["source"] == "api"

    status, listed = await asgi_call(app, "GET", "/api/v1/subscriptions")
    assert status == 200 and [s["id"] for s in listed] == [sub_id]
    status, got = await asgi_call(app, "GET", f"/api/v1/subscriptions/{sub_id}")
    assert status == 200 and got == created

    status, patched = await asgi_call(
        app, "PATCH", f"/api/v1/subscriptions/{sub_id}", json_body={"min_score": 0.5}
    )
    assert status == 200 and patched["min_score"] == 0.5 and patched["webhook_secret_set"]

    put = {k: v for k, v in HOOK.items() if k != "webhook_secret"} | {"include_updates": True}
    status, replaced = await asgi_call(app, "PUT", f"/api/v1/subscriptions/{sub_id}", json_body=put)
    assert status == 200 and replaced["include_updates"] and replaced["min_score"] == 0.0
    assert replaced["webhook_secret_set"]  # PUT without a secret keeps the stored one
    stored = svc.subscription(sub_id).webhook_secret
    assert stored is not None and stored.get_secret_value() == HOOK["webhook_secret"]

    status, _ = await asgi_call(app, "DELETE", f"/api/v1/subscriptions/{sub_id}")
    assert status == 204
    status, body = await asgi_call(app, "GET", f"/api/v1/subscriptions/{sub_id}")
    assert status == 404 and sub_id in body["detail"]
    assert HOOK["webhook_secret"] not in caplog.text


async def test_auth(make_service: ServiceFactory) -> None:
    svc = await make_service()
    app = app_for(svc.router())
    assert (await asgi_call(app, "GET", "/api/v1/subscriptions", token=None))[0] == 401
    status, body = await asgi_call(app, "GET", "/api/v1/subscriptions", token="wrong")
    assert status == 401 and "invalid" in body["detail"]
    assert (await asgi_call(app, "GET", "/api/v1/alerts"))[0] == 200

    closed = await make_service(tokens=())
    app = app_for(closed.router())
    status, body = await asgi_call(app, "GET", "/api/v1/subscriptions", token="anything")
    assert status == 403 and "no API token is configured" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**HOOK, "webhook_url": "http://127.0.0.1:8080/h"}, "webhook_url", "private"),
        ({**HOOK, "webhook_url": "http://[::1]/h"}, "webhook_url", "private"),
        ({**HOOK, "webhook_url": "ftp://example.org/"}, "webhook_url", "http"),
        ({k: v for k, v in HOOK.items() if k != "webhook_secret"}, "webhook_secret", "required"),
        ({**HOOK, "webhook_secret": "short"}, "webhook_secret", "16"),
        ({**HOOK, "min_score": 2}, "min_score", "less than or equal"),
        ({**HOOK, "topics": ["Not A Topic"]}, "topics", "pattern"),
        ({**HOOK, "colour": "red"}, "colour", "Extra inputs"),
        (
            {**HOOK, "throttle": {"mode": "limit", "max_alerts": 0, "window_minutes": 5}},
            "max_alerts",
            "greater than or equal to 1",
        ),
        ({"name": "k", "channel": "kafka", "kafka_topic": "dead"}, "kafka_topic", "reserved"),
    ],
)
async def test_bad_requests_name_the_field(
    make_service: ServiceFactory, body: dict[str, Any], field: str, words: str
) -> None:
    svc = await make_service(allow_private_webhooks=False)
    app = app_for(svc.router())
    status, answer = await asgi_call(app, "POST", "/api/v1/subscriptions", json_body=body)
    assert status == 422, answer
    problems = answer["detail"]
    assert any(field in map(str, p["loc"]) and words in p["msg"] for p in problems), problems


async def test_conflicts(make_service: ServiceFactory) -> None:
    spec = {"name": "from-config", "channel": "kafka"}
    svc = await make_service(subscriptions=[spec])
    app = app_for(svc.router())
    status, body = await asgi_call(app, "POST", "/api/v1/subscriptions", json_body=spec)
    assert status == 409 and "already exists" in body["detail"]
    [config_sub] = svc.subscriptions()
    status, body = await asgi_call(app, "DELETE", f"/api/v1/subscriptions/{config_sub.id}")
    assert status == 409 and "config file" in body["detail"]
    status, body = await asgi_call(
        app, "PATCH", f"/api/v1/subscriptions/{config_sub.id}", json_body={"active": False}
    )
    assert status == 409


async def test_patch_that_breaks_the_subscription_is_refused(make_service: ServiceFactory) -> None:
    svc = await make_service()
    app = app_for(svc.router())
    _, created = await asgi_call(
        app, "POST", "/api/v1/subscriptions", json_body={"name": "k", "channel": "kafka"}
    )
    status, body = await asgi_call(
        app, "PATCH", f"/api/v1/subscriptions/{created['id']}", json_body={"channel": "webhook"}
    )
    assert status == 422 and "webhook_url" in str(body["detail"])
    status, body = await asgi_call(
        app, "PATCH", f"/api/v1/subscriptions/{created['id']}", json_body={"name": None}
    )
    assert status == 422 and "name" in str(body["detail"])


async def test_recent_alerts(make_service: ServiceFactory) -> None:
    svc = await make_service(recent_limit=100)
    app = app_for(svc.router())
    _, created = await asgi_call(
        app,
        "POST",
        "/api/v1/subscriptions",
        json_body={"name": "k", "channel": "kafka", "topics": ["sanctions"]},
    )
    for i in range(3):
        await svc.handle(event(f"ev{i}"), published_at=0.0)
    status, alerts = await asgi_call(app, "GET", "/api/v1/alerts?limit=2")
    assert status == 200 and [a["alert"]["event_id"] for a in alerts] == ["ev2", "ev1"]
    assert alerts[0]["alert"]["subscription_id"] == created["id"]
    status, body = await asgi_call(app, "GET", "/api/v1/alerts?limit=101")
    assert status == 422 and "limit" in str(body["detail"])


async def test_openapi_document(make_service: ServiceFactory) -> None:
    svc = await make_service()
    app = app_for(svc.router())
    status, doc = await asgi_call(app, "GET", "/api/openapi.json", token=None)
    assert status == 200
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ops == {
        ("POST", "/api/v1/subscriptions"),
        ("GET", "/api/v1/subscriptions"),
        ("GET", "/api/v1/subscriptions/{subscription_id}"),
        ("PUT", "/api/v1/subscriptions/{subscription_id}"),
        ("PATCH", "/api/v1/subscriptions/{subscription_id}"),
        ("DELETE", "/api/v1/subscriptions/{subscription_id}"),
        ("GET", "/api/v1/alerts"),
    }
    assert "bearer" in doc["components"]["securitySchemes"]
    view = doc["components"]["schemas"]["SubscriptionView"]["properties"]
    assert "webhook_secret" not in view
