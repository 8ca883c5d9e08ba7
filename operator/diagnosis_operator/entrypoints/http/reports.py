"""``GET /reports/{namespace}/{name}``: a Diagnosis' report as HTML, read-only.

Served by the operator's HTTP server behind the webhook's bearer token (the same
``TokenSource``, checked by ``webhook.bearer_refusal``): 401 without it.  The page
is ``report.render_html`` of the saved result in the report ConfigMap the
Diagnosis' ``status.reportRef`` names.  Namespace and name must be DNS names (no
path can be smuggled in), the namespace one the operator serves; anything else,
an unknown Diagnosis or one without a report yet is 404.  Notifications link here
(``DIAG_NOTIFY_REPORT_BASE_URL``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from diagnosis_operator.entrypoints.http.webhook import (
    UNAUTHORIZED_HEADERS,
    TokenSource,
    bearer_refusal,
)
from diagnosis_operator.report import ResultFormatError, render_html, result_from_json

log = logging.getLogger(__name__)

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class ReportSource(Protocol):
    """A Diagnosis' saved result as JSON text, ``None`` when absent (blocking)."""

    def report_json(self, *, namespace: str, name: str) -> str | None: ...


@dataclass(frozen=True)
class ReportPages:
    source: ReportSource
    token: TokenSource
    # The namespaces the operator serves; empty: every namespace.
    namespaces: tuple[str, ...] = ()

    async def handle(self, request: web.Request) -> web.Response:
        refused = bearer_refusal(request, self.token)
        if refused is not None:
            status, message = refused
            headers = UNAUTHORIZED_HEADERS if status == 401 else None
            return web.json_response({"error": message}, status=status, headers=headers)
        namespace = request.match_info.get("namespace", "")
        name = request.match_info.get("name", "")
        if not self._servable(namespace, name):
            return _not_found(namespace, name)
        try:
            text = await asyncio.to_thread(self.source.report_json, namespace=namespace, name=name)
        except Exception as error:  # the apiserver: say so, the page can be asked again
            log.warning("report %s/%s: %s", namespace, name, error)
            return web.json_response({"error": f"cannot read the report: {error}"}, status=503)
        if text is None:
            return _not_found(namespace, name)
        try:
            page = render_html(result_from_json(json.loads(text)))
        except (ValueError, ResultFormatError) as error:
            return web.json_response(
                {"error": f"the saved report of {namespace}/{name} is unreadable: {error}"},
                status=500,
            )
        return web.Response(
            text=page, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
        )

    def _servable(self, namespace: str, name: str) -> bool:
        if not _NAMESPACE.fullmatch(namespace) or not _NAME.fullmatch(name):
            return False
        return not self.namespaces or namespace in self.namespaces


def _not_found(namespace: str, name: str) -> web.Response:
    return web.json_response(
        {"error": f"no report for Diagnosis {namespace[:63]}/{name[:253]}"}, status=404
    )


def report_routes(
    source: ReportSource, *, namespaces: tuple[str, ...] = ()
) -> Callable[[web.Application, TokenSource], None]:
    """What ``build_app(routes=...)`` adds: the report pages behind the webhook's token."""

    def add(app: web.Application, token: TokenSource) -> None:
        pages = ReportPages(source=source, token=token, namespaces=namespaces)
        app.router.add_get("/reports/{namespace}/{name}", pages.handle)

    return add
