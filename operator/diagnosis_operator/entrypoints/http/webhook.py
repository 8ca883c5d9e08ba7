"""The Alertmanager webhook receiver: ``POST /alertmanager``, ``/healthz``, ``/metrics``.

``build_app`` makes an ``aiohttp.web.Application``; the kopf startup hook in
handlers/webhook.py runs it inside the operator's event loop, and tests run it on
a loopback port with a fake writer.

A notification is handled in order, each step answering on its own:

1. bearer token (``Authorization: Bearer <token>``), compared in constant time:
   401 when missing or wrong;
2. ``Content-Type: application/json``: 415 otherwise; body size: 413 above the limit;
3. JSON and the version-4 payload: 400 / 422 with the offending field named;
4. routing (which policy, which component) and the pure decision in core/alerts.py:
   404 for an unknown policy, 422 for an invalid one or when no alert names a component,
   200 ``ignored`` for a resolved group;
5. create-if-absent through ``DiagnosisWriter``: 201 ``created``, or 200
   ``deduplicated`` with the existing name; 503 when the apiserver fails, which
   Alertmanager retries.

``POST /alertmanager`` uses the default policy; ``POST /alertmanager/{namespace}/{policy}``
names one, so that several Alertmanager receivers can route to several policies.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, Self

from aiohttp import web
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from diagnosis_operator.adapters.kubernetes.errors import KubernetesError
from diagnosis_operator.api import DURATION_PATTERN, DiagnosisPolicySpec, parse_duration
from diagnosis_operator.core.alerts import (
    AlertRouting,
    DiagnosisToCreate,
    Ignored,
    UnroutableAlert,
    diagnosis_for_alerts,
    routing_from_policy,
)
from diagnosis_operator.models.alerts import AlertmanagerWebhook
from diagnosis_operator.service import metrics

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
_JSON_TYPES = ("application/json",)


class HttpSettings(BaseSettings):
    """The operator's HTTP server (``/metrics``, ``/healthz``, the webhook): ``DIAG_HTTP_*``.

    No port, no server (unless the webhook is enabled, which needs one: 8080).
    """

    model_config = SettingsConfigDict(env_prefix="DIAG_HTTP_", extra="forbid", frozen=True)

    port: int | None = Field(default=None, ge=1, le=65535)
    address: str = "0.0.0.0"  # noqa: S104 (the pod's own network namespace)


DEFAULT_HTTP_PORT = 8080


class WebhookSettings(BaseSettings):
    """The webhook's settings, from ``DIAG_WEBHOOK_*`` (the chart sets them).

    The token comes from ``DIAG_WEBHOOK_TOKEN_FILE`` (a mounted Secret; preferred)
    or ``DIAG_WEBHOOK_TOKEN``.  Notifications to ``POST /alertmanager`` go to the
    policy ``DIAG_WEBHOOK_POLICY`` in ``DIAG_WEBHOOK_NAMESPACE``.
    """

    model_config = SettingsConfigDict(env_prefix="DIAG_WEBHOOK_", extra="forbid", frozen=True)

    enabled: bool = False
    token_file: Path | None = None
    token: SecretStr | None = None
    namespace: str | None = Field(default=None, max_length=63)
    policy: str | None = Field(default=None, max_length=253)
    mode: Literal["observe", "dry-run", "remediate"] | None = None
    component_labels: Annotated[tuple[str, ...], NoDecode] = ("service", "job", "app")
    default_component: str | None = None
    route_label: str | None = "route"
    lookback: str = Field(default="30m", pattern=DURATION_PATTERN)
    max_window: str = Field(default="6h", pattern=DURATION_PATTERN)
    dedup_window: str = Field(default="1h", pattern=DURATION_PATTERN)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)

    @model_validator(mode="before")
    @classmethod
    def _comma_separated(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("component_labels"), str):
            text = values["component_labels"]
            values = {
                **values,
                "component_labels": tuple(part.strip() for part in text.split(",") if part.strip()),
            }
        return values

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> Self:
        if self.enabled:
            if self.token_file is None and self.token is None:
                raise ValueError("the webhook needs DIAG_WEBHOOK_TOKEN_FILE or DIAG_WEBHOOK_TOKEN")
            if not self.namespace or not self.policy:
                raise ValueError(
                    "the webhook needs DIAG_WEBHOOK_NAMESPACE and DIAG_WEBHOOK_POLICY "
                    "(the policy POST /alertmanager routes to)"
                )
        return self

    def token_source(self) -> TokenSource:
        if self.token_file is not None:
            return TokenSource(path=self.token_file)
        assert self.token is not None
        return TokenSource(value=self.token.get_secret_value())

    def routing_template(self) -> AlertRouting:
        return AlertRouting(
            policy=self.policy or "",
            namespace=self.namespace or "",
            component_labels=self.component_labels,
            default_component=self.default_component,
            route_label=self.route_label,
            mode=self.mode,
            lookback_seconds=parse_duration(self.lookback),
            max_window_seconds=parse_duration(self.max_window),
            dedup_window_seconds=parse_duration(self.dedup_window),
        )


class DiagnosisWriter(Protocol):
    """Creates a Diagnosis unless one of that name exists (blocking; run in a thread).

    Returns ``True`` when created, ``False`` when it already existed.  Failures raise
    ``KubernetesError`` (or any exception: the webhook answers 503 either way).
    """

    def create_if_absent(self, *, namespace: str, body: Mapping[str, Any]) -> bool: ...


class RoutingNotFound(LookupError):
    """The policy a notification is addressed to does not exist."""


class RoutingInvalid(ValueError):
    """The policy exists but cannot route alerts (its spec does not validate)."""


class RoutingResolver(Protocol):
    """The ``AlertRouting`` for a policy; ``None`` arguments mean the default policy.

    Blocking (it may read the DiagnosisPolicy from the apiserver); raises
    ``RoutingNotFound`` for an unknown policy.
    """

    def routing_for(self, *, namespace: str | None, policy: str | None) -> AlertRouting: ...


@dataclass(frozen=True)
class StaticRouting:
    """One fixed routing, for a single-policy install and for tests."""

    routing: AlertRouting

    def routing_for(self, *, namespace: str | None, policy: str | None) -> AlertRouting:
        if policy is None or (
            policy == self.routing.policy and namespace in (None, self.routing.namespace)
        ):
            return self.routing
        raise RoutingNotFound(f"no DiagnosisPolicy {namespace}/{policy} is configured")


class PolicyReader(Protocol):
    """Reads a DiagnosisPolicy object (blocking); ``None`` when absent."""

    def get_policy(self, *, namespace: str, name: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class PolicyRouting:
    """Routing read from the DiagnosisPolicy at each notification (policies change).

    ``template`` carries the operator's alert settings and the default policy.
    """

    reader: PolicyReader
    template: AlertRouting

    def routing_for(self, *, namespace: str | None, policy: str | None) -> AlertRouting:
        namespace = namespace or self.template.namespace
        name = policy or self.template.policy
        found = self.reader.get_policy(namespace=namespace, name=name)
        if found is None:
            raise RoutingNotFound(f"DiagnosisPolicy {namespace}/{name} not found")
        try:
            spec = DiagnosisPolicySpec.model_validate(found.get("spec"))
        except ValidationError as error:
            fields = ", ".join(item["field"] for item in _field_errors(error))
            raise RoutingInvalid(
                f"DiagnosisPolicy {namespace}/{name} is invalid (fields: {fields})"
            ) from error
        return routing_from_policy(
            spec=spec, name=name, namespace=namespace, template=self.template
        )


class TokenSource:
    """The bearer token Alertmanager must present.

    Read from a file (a mounted Secret, re-read when it changes, so a rotated Secret
    takes effect without a restart) or given as a value (e.g. from the environment).
    Surrounding whitespace is ignored: ``kubectl create secret --from-file`` keeps
    the trailing newline of the file.
    """

    def __init__(self, *, value: str | None = None, path: Path | None = None) -> None:
        if (value is None) == (path is None):
            raise ValueError("give the webhook token either as a value or as a file path")
        self._path = path
        self._cached: tuple[float, bytes] | None = None
        if value is not None:
            token = value.strip().encode()
            if not token:
                raise ValueError("the webhook token is empty")
            self._value: bytes | None = token
        else:
            self._value = None
            self.current()  # fail at startup, not on the first alert

    def current(self) -> bytes:
        if self._value is not None:
            return self._value
        assert self._path is not None
        try:
            mtime = self._path.stat().st_mtime
            if self._cached is None or self._cached[0] != mtime:
                token = self._path.read_bytes().strip()
                if not token:
                    raise ValueError(f"the webhook token file {self._path} is empty")
                self._cached = (mtime, token)
        except OSError as error:
            raise ValueError(f"cannot read the webhook token file {self._path}: {error}") from error
        return self._cached[1]

    def accepts(self, presented: bytes) -> bool:
        return hmac.compare_digest(presented, self.current())


def build_app(
    *,
    writer: DiagnosisWriter | None,
    routing: RoutingResolver | None,
    token: TokenSource | None,
    clock: Callable[[], float] = time.time,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    routes: Callable[[web.Application, TokenSource], None] | None = None,
) -> web.Application:
    """The operator's HTTP application; nothing runs until an ``AppRunner`` starts it.

    ``/healthz`` and ``/metrics`` always; ``/alertmanager`` only with a writer, a
    routing and a token together (there is no unauthenticated webhook).  ``routes``
    adds more routes behind the same token (``GET /reports/...``: http/reports.py).
    """
    # aiohttp's own limit stays above ours so that our check gives the clear 413.
    app = web.Application(client_max_size=max_body_bytes + 1)
    given = [part is not None for part in (writer, routing, token)]
    if any(given) and not all(given):
        raise ValueError("the Alertmanager webhook needs a writer, a routing and a token")
    if writer is not None and routing is not None and token is not None:
        receiver = _Receiver(
            writer=writer, routing=routing, token=token, clock=clock, max_body_bytes=max_body_bytes
        )
        app.router.add_post("/alertmanager", receiver.handle)
        app.router.add_post("/alertmanager/{namespace}/{policy}", receiver.handle)
    if routes is not None:
        if token is None:
            raise ValueError("routes behind the webhook's token need the token")
        routes(app, token)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = metrics.exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def bearer_refusal(request: web.Request, token: TokenSource) -> tuple[int, str] | None:
    """``None`` when the request carries the token, else (HTTP status, why) (401 or 503)."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if not header:
        return 401, "missing Authorization: Bearer <token> header"
    if scheme.lower() != "bearer" or not presented.strip():
        return 401, "Authorization must be 'Bearer <token>'"
    try:
        accepted = token.accepts(presented.strip().encode())
    except ValueError as error:
        return 503, f"webhook token unavailable: {error}"
    if not accepted:
        return 401, "wrong bearer token"
    return None


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="diagnosis-operator"'}


def _error(status: int, result: str, message: str, **extra: Any) -> web.Response:
    metrics.record_alert_notification(result)
    log.warning("alertmanager webhook: %s (HTTP %d): %s", result, status, message)
    headers = UNAUTHORIZED_HEADERS if status == 401 else None
    return web.json_response(
        {"result": result, "error": message, **extra}, status=status, headers=headers
    )


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    details = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(body)"
        details.append({"field": where, "message": item["msg"]})
    return details


@dataclass
class _Receiver:
    writer: DiagnosisWriter
    routing: RoutingResolver
    token: TokenSource
    clock: Callable[[], float]
    max_body_bytes: int

    async def handle(self, request: web.Request) -> web.Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        if request.content_type not in _JSON_TYPES:
            return _error(
                415,
                "invalid",
                f"Content-Type must be application/json, got {request.content_type!r}",
            )
        declared = request.content_length
        if declared is not None and declared > self.max_body_bytes:
            return _error(
                413,
                "invalid",
                f"body of {declared} bytes is over the limit of {self.max_body_bytes}",
            )
        raw = await self._read_limited(request)
        if raw is None:
            return _error(413, "invalid", f"body is over the limit of {self.max_body_bytes} bytes")
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            return _error(400, "invalid", f"body is not valid JSON: {error}")
        if not isinstance(document, dict):
            return _error(
                422,
                "invalid",
                f"body must be a JSON object, got {type(document).__name__}",
                details=[{"field": "(body)", "message": "expected an object"}],
            )
        try:
            payload = AlertmanagerWebhook.model_validate(document)
        except ValidationError as error:
            details = _field_errors(error)
            fields = ", ".join(item["field"] for item in details)
            return _error(
                422,
                "invalid",
                f"not an Alertmanager version-4 payload; bad fields: {fields}",
                details=details,
            )
        return await self._decide_and_create(request, payload)

    async def _read_limited(self, request: web.Request) -> bytes | None:
        """The body, or ``None`` as soon as it passes the limit (chunked bodies too)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.content.read(64 * 1024)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)

    def _authenticate(self, request: web.Request) -> web.Response | None:
        refused = bearer_refusal(request, self.token)
        if refused is None:
            return None
        status, message = refused
        return _error(status, "unauthorized" if status == 401 else "failed", message)

    async def _decide_and_create(
        self, request: web.Request, payload: AlertmanagerWebhook
    ) -> web.Response:
        namespace = request.match_info.get("namespace")
        policy = request.match_info.get("policy")
        try:
            routing = await asyncio.to_thread(
                self.routing.routing_for, namespace=namespace, policy=policy
            )
        except RoutingNotFound as error:
            return _error(404, "unroutable", str(error))
        except RoutingInvalid as error:
            return _error(422, "unroutable", str(error))
        except (KubernetesError, ValueError) as error:
            return _error(503, "failed", f"cannot read the routing policy: {error}")
        try:
            decision = diagnosis_for_alerts(payload=payload, routing=routing, now=self.clock())
        except UnroutableAlert as error:
            return _error(422, "unroutable", str(error))
        if isinstance(decision, Ignored):
            metrics.record_alert_notification("ignored")
            return web.json_response({"result": "ignored", "reason": decision.reason})
        return await self._create(decision, group_key=payload.group_key)

    async def _create(self, decision: DiagnosisToCreate, *, group_key: str) -> web.Response:
        try:
            created = await asyncio.to_thread(
                self.writer.create_if_absent,
                namespace=decision.namespace,
                body=decision.manifest(),
            )
        except Exception as error:  # any writer failure: 503 so that Alertmanager retries
            return _error(
                503,
                "failed",
                f"could not create Diagnosis {decision.namespace}/{decision.name}: {error}",
            )
        result = "created" if created else "deduplicated"
        metrics.record_alert_notification(result)
        log.info(
            "alert group %r: Diagnosis %s/%s %s",
            group_key,
            decision.namespace,
            decision.name,
            result,
        )
        return web.json_response(
            {
                "result": result,
                "name": decision.name,
                "namespace": decision.namespace,
                "component": decision.component,
            },
            status=201 if created else 200,
        )
