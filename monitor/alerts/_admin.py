"""The subscription API's side of the alert router: tokens and subscription changes.

What ``api.py`` calls. Guarantees: tokens are compared in constant time (also in
length); a subscription from the config file cannot be changed through the API; a
webhook subscription has a secret and a URL that passes the address check; names
stay unique and ``max_subscriptions`` is enforced under the lock; every refusal is an
:class:`ApiError` with an HTTP status and, where there is one, the field it is about.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from ..errors import MonitorError
from ._core import RouterState, to_datetime
from .models import AlertRecord, Subscription, SubscriptionIn, SubscriptionPatch
from .store import NameTakenError
from .webhook import WebhookError, check_webhook_url


class ApiError(MonitorError):
    """A request the API refuses: ``status`` and a message naming the field when there is one."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message, about=field)
        self.status = status
        self.field = field


def token_digest(token: str) -> bytes:
    # Comparing fixed-length digests keeps compare_digest from leaking the token length.
    return hashlib.sha256(token.encode("utf-8")).digest()


class SubscriptionAdmin(RouterState):
    """The API half of :class:`~monitor.alerts.service.AlertService`."""

    def tokens_configured(self) -> bool:
        """Whether any API token is configured (without one the API refuses everything)."""
        return bool(self._token_digests)

    def token_ok(self, token: str) -> bool:
        """Constant-time check of a bearer token against every configured token."""
        given = token_digest(token)
        ok = False
        for expected in self._token_digests:
            ok |= hmac.compare_digest(given, expected)
        return ok

    def subscriptions(self) -> list[Subscription]:
        return sorted(self._subs.values(), key=lambda s: (s.created_at, s.id))

    def subscription(self, sub_id: str) -> Subscription:
        sub = self._subs.get(sub_id)
        if sub is None:
            raise ApiError(404, f"no subscription with id {sub_id!r}")
        return sub

    async def create_subscription(self, spec: SubscriptionIn) -> Subscription:
        """Validate (secret, webhook address, name, quota) and store a new API subscription."""
        await self._check_spec(spec, None)
        now = to_datetime(self._clock())
        sub = Subscription.model_validate(
            {
                **spec.model_dump(),
                "webhook_secret": spec.webhook_secret,
                "id": "sub_" + uuid.uuid4().hex[:20],
                "source": "api",
                "created_at": now,
                "updated_at": now,
            }
        )
        async with self._lock:
            if len(self._subs) >= self.config.max_subscriptions:
                raise ApiError(409, f"the limit of {self.config.max_subscriptions} subscriptions is reached")
            await self._save(sub)
        return sub

    async def replace_subscription(self, sub_id: str, spec: SubscriptionIn) -> Subscription:
        """PUT: replace every field; an omitted ``webhook_secret`` keeps the stored one."""
        old = self._editable(sub_id)
        secret = spec.webhook_secret or (old.webhook_secret if spec.channel == "webhook" else None)
        spec = SubscriptionIn.model_validate({**spec.model_dump(), "webhook_secret": secret})
        await self._check_spec(spec, old)
        return await self._update(old, spec)

    async def patch_subscription(self, sub_id: str, patch: SubscriptionPatch) -> Subscription:
        """PATCH: apply the keys present; the result must be a valid subscription (else 422)."""
        old = self._editable(sub_id)
        merged = old.model_dump(include=set(SubscriptionIn.model_fields))
        merged["webhook_secret"] = old.webhook_secret
        merged.update({k: getattr(patch, k) for k in patch.model_fields_set})
        if merged.get("channel") != "webhook" and "webhook_secret" not in patch.model_fields_set:
            merged["webhook_secret"] = None
        # A pydantic ValidationError here is turned into a 422 naming the field by the API.
        spec = SubscriptionIn.model_validate(merged)
        await self._check_spec(spec, old)
        return await self._update(old, spec)

    async def delete_subscription(self, sub_id: str) -> None:
        """Delete an API subscription; its pending deliveries are cancelled."""
        old = self._editable(sub_id)
        async with self._lock:
            await self.store.delete_subscription(old.id, self._clock())
            self._subs.pop(old.id, None)
            self._throttle.pop(old.id, None)
            self._rebuild()

    async def recent_alerts(self, limit: int, subscription_id: str | None = None) -> list[AlertRecord]:
        return await self.store.recent_alerts(limit, subscription_id)

    def _editable(self, sub_id: str) -> Subscription:
        sub = self.subscription(sub_id)
        if sub.source == "config":
            raise ApiError(409, f"subscription {sub_id!r} is declared in the config file; change it there")
        return sub

    async def _check_spec(self, spec: SubscriptionIn, old: Subscription | None) -> None:
        if spec.channel == "webhook":
            if spec.webhook_secret is None:
                raise ApiError(422, "required when channel is 'webhook'", field="webhook_secret")
            url = spec.webhook_url or ""
            if old is None or old.webhook_url != url or not self.config.allow_private_webhooks:
                try:
                    await check_webhook_url(url, allow_private=self.config.allow_private_webhooks)
                except WebhookError as exc:
                    raise ApiError(422, exc.message, field="webhook_url") from None

    async def _update(self, old: Subscription, spec: SubscriptionIn) -> Subscription:
        sub = Subscription.model_validate(
            {
                **spec.model_dump(),
                "webhook_secret": spec.webhook_secret,
                "id": old.id,
                "source": old.source,
                "created_at": old.created_at,
                "updated_at": to_datetime(self._clock()),
            }
        )
        async with self._lock:
            if old.id not in self._subs:
                raise ApiError(404, f"no subscription with id {old.id!r}")
            await self._save(sub)
        self._wake.set()  # a throttle change may make a held digest due now
        return sub

    async def _save(self, sub: Subscription) -> None:
        try:
            await self.store.save_subscription(sub)
        except NameTakenError:
            raise ApiError(409, f"a subscription named {sub.name!r} already exists", field="name") from None
        self._subs[sub.id] = sub
        self._rebuild()
