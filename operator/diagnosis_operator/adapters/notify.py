"""The HTTP notification sink: one JSON POST through the adapters' retrying session.

Connection failures (nothing was delivered) are retried with backoff; an HTTP
error status is not (a POST is not safe to repeat: Slack would show it twice).
Any status outside 2xx is a ``NotificationError`` naming the sink, the status
and the start of the body.  A URL read from a Secret is a credential (a Slack
webhook URL carries its token in the path): errors then name the sink only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from diagnosis_operator.adapters.http import retry_policy, retrying_session
from diagnosis_operator.ports import NotificationError

MAX_ERROR_BODY = 300


@dataclass
class HttpNotificationSink:
    name: str
    url: str
    timeout: float = 10.0
    token: str | None = None
    url_is_secret: bool = False
    retries: int = 2
    backoff: float = 0.5
    _session: requests.Session | None = field(default=None, repr=False)

    def _where(self, path: str) -> str:
        if self.url_is_secret:
            return f"sink {self.name} (URL from its Secret)"
        return f"sink {self.name} ({self.url.rstrip('/')}{path})"

    def send(self, *, path: str, content_type: str, body: Mapping[str, Any]) -> None:
        if self._session is None:
            self._session = retrying_session(
                retry=retry_policy(retries=self.retries, backoff=self.backoff)
            )
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            response = self._session.post(
                self.url.rstrip("/") + path if path else self.url,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            reason = type(error).__name__ if self.url_is_secret else str(error)
            raise NotificationError(f"{self._where(path)}: {reason}") from None
        with response:
            if not 200 <= response.status_code < 300:
                text = response.text[:MAX_ERROR_BODY]
                raise NotificationError(
                    f"{self._where(path)} answered HTTP {response.status_code}: {text}"
                )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
