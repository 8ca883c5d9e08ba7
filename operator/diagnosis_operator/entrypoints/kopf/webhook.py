"""Starts the operator's HTTP server inside kopf's event loop.

It serves ``/metrics`` and ``/healthz`` on ``DIAG_HTTP_PORT`` (address
``DIAG_HTTP_ADDRESS``), and the Alertmanager webhook ``/alertmanager`` when
``DIAG_WEBHOOK_ENABLED=true`` (see ``service.webhook.WebhookSettings``; without
``DIAG_HTTP_PORT`` the webhook listens on 8080), and with it the read-only HTML
reports ``GET /reports/{namespace}/{name}`` behind the same token (http/reports.py).
The webhook shares the operator's apiserver credentials (``OperatorContext`` in
kopf's memo, set by ``diagnosis-operator run``): it reads DiagnosisPolicies and
creates Diagnoses, the two verbs the chart's ClusterRole grants for this.

With kopf peering, every replica serves the webhook: create-if-absent with a
deterministic name makes a notification delivered to two replicas one Diagnosis.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from aiohttp import web

from diagnosis_operator.entrypoints.bootstrap.connections import diagnosis_writer
from diagnosis_operator.entrypoints.bootstrap.notifications import report_source
from diagnosis_operator.entrypoints.http.reports import report_routes
from diagnosis_operator.entrypoints.http.webhook import (
    DEFAULT_HTTP_PORT,
    HttpSettings,
    PolicyRouting,
    WebhookSettings,
    build_app,
)
from diagnosis_operator.entrypoints.kopf.context import context_of

RUNNER_MEMO_KEY = "alertmanager_webhook_runner"


@kopf.on.startup()
async def start_alertmanager_webhook(
    *, memo: Any, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    settings = WebhookSettings()
    http = HttpSettings()
    context = context_of(memo)
    port = http.port or (DEFAULT_HTTP_PORT if settings.enabled else None)
    address = http.address
    if port is None:
        logger.info("no HTTP server: neither DIAG_HTTP_PORT nor DIAG_WEBHOOK_ENABLED is set")
        return
    if settings.enabled:
        writer = diagnosis_writer(context.configuration)
        app = build_app(
            writer=writer,
            routing=PolicyRouting(reader=writer, template=settings.routing_template()),
            token=settings.token_source(),
            max_body_bytes=settings.max_body_bytes,
            routes=report_routes(
                report_source(context.configuration), namespaces=context.settings.namespaces
            ),
        )
    else:
        app = build_app(writer=None, routing=None, token=None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, address, port).start()
    except OSError as error:
        await runner.cleanup()
        raise kopf.PermanentError(f"cannot listen on {address}:{port}: {error}") from error
    memo[RUNNER_MEMO_KEY] = runner
    if settings.enabled:
        logger.info(
            "HTTP server on %s:%d: /metrics, /healthz, /alertmanager (default policy %s/%s), "
            "/reports",
            address,
            port,
            settings.namespace,
            settings.policy,
        )
    else:
        logger.info("HTTP server on %s:%d: /metrics, /healthz (webhook off)", address, port)


@kopf.on.cleanup()
async def stop_alertmanager_webhook(*, memo: Any, **_: Any) -> None:
    runner = memo.get(RUNNER_MEMO_KEY)
    if isinstance(runner, web.AppRunner):
        await runner.cleanup()
