"""The subscription HTTP API (FastAPI router, paths under ``/api/v1``).

Every operation needs ``Authorization: Bearer <token>`` with one of the configured
tokens (``http.api_tokens``, or ``WIREMON_HTTP__API_TOKENS``). With no token
configured the API answers 403 to everything; a missing or wrong token gets 401.
Tokens are compared in constant time and never logged.

Errors: 422 bodies have FastAPI's shape, ``{"detail": [{"loc": [...], "msg": ...,
"type": ...}]}``, where ``loc`` names the field; other 4xx are ``{"detail": "..."}``.

No ``from __future__ import annotations`` here: FastAPI must evaluate the parameter
annotations, and the ``limit`` bound comes from the service's configuration.
"""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from .models import AlertRecord, ErrorBody, SubscriptionIn, SubscriptionPatch, SubscriptionView

if TYPE_CHECKING:
    from .service import AlertService

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="One of the tokens configured in http.api_tokens (or WIREMON_HTTP__API_TOKENS).",
)
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

SubscriptionId = Annotated[str, Path(max_length=200, description="The id the API gave the subscription.")]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


def _unprocessable(loc: list[str | int], msg: str, kind: str = "value_error") -> HTTPException:
    detail = [{"loc": loc, "msg": msg, "type": kind}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def build_router(service: "AlertService") -> APIRouter:
    """The API router bound to one ``AlertService``."""
    from .service import ApiError  # late: service imports this module lazily too

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> None:
        if not service.tokens_configured():
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "the alert API is disabled: no API token is configured "
                "(set http.api_tokens in the config file or WIREMON_HTTP__API_TOKENS)",
            )
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token: send 'Authorization: Bearer <token>'",
                headers=_UNAUTHORIZED,
            )
        if not service.token_ok(credentials.credentials):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers=_UNAUTHORIZED)

    router = APIRouter(
        prefix="/api/v1",
        tags=["alerts"],
        dependencies=[Depends(require_token)],
        responses=_errors(401, 403),
    )

    async def call(coro: Any) -> Any:
        try:
            return await coro
        except ApiError as exc:
            if exc.status == 422:
                raise _unprocessable(["body", exc.field or "body"], exc.message) from None
            raise HTTPException(exc.status, str(exc)) from None
        except ValidationError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[
                    {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False, include_input=False)
                ],
            ) from None

    @router.post(
        "/subscriptions",
        status_code=status.HTTP_201_CREATED,
        response_model=SubscriptionView,
        responses=_errors(409),
        summary="Create a subscription",
    )
    async def create_subscription(spec: SubscriptionIn) -> SubscriptionView:
        return SubscriptionView.of(await call(service.create_subscription(spec)))

    @router.get("/subscriptions", response_model=list[SubscriptionView], summary="List subscriptions")
    async def list_subscriptions() -> list[SubscriptionView]:
        return [SubscriptionView.of(s) for s in service.subscriptions()]

    @router.get(
        "/subscriptions/{subscription_id}",
        response_model=SubscriptionView,
        responses=_errors(404),
        summary="Get a subscription",
    )
    async def get_subscription(subscription_id: SubscriptionId) -> SubscriptionView:
        try:
            return SubscriptionView.of(service.subscription(subscription_id))
        except ApiError as exc:
            raise HTTPException(exc.status, str(exc)) from None

    @router.put(
        "/subscriptions/{subscription_id}",
        response_model=SubscriptionView,
        responses=_errors(404, 409),
        summary="Replace a subscription (omit webhook_secret to keep it)",
    )
    async def replace_subscription(subscription_id: SubscriptionId, spec: SubscriptionIn) -> SubscriptionView:
        return SubscriptionView.of(await call(service.replace_subscription(subscription_id, spec)))

    @router.patch(
        "/subscriptions/{subscription_id}",
        response_model=SubscriptionView,
        responses=_errors(404, 409),
        summary="Change some fields of a subscription",
    )
    async def patch_subscription(
        subscription_id: SubscriptionId, patch: SubscriptionPatch
    ) -> SubscriptionView:
        return SubscriptionView.of(await call(service.patch_subscription(subscription_id, patch)))

    @router.delete(
        "/subscriptions/{subscription_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=_errors(404, 409),
        summary="Delete a subscription (pending deliveries are cancelled)",
    )
    async def delete_subscription(subscription_id: SubscriptionId) -> Response:
        await call(service.delete_subscription(subscription_id))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/alerts", response_model=list[AlertRecord], summary="Recent alerts, newest first")
    async def list_alerts(
        limit: Annotated[int, Query(ge=1, le=service.config.recent_limit)] = 50,
        subscription_id: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[AlertRecord]:
        return await service.recent_alerts(limit, subscription_id)

    return router

