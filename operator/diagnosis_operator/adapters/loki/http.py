"""The Loki client's transport: one retrying session, credentials, errors saying what was asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import requests

from diagnosis_operator.adapters.http import READ_METHODS, retry_policy, retrying_session
from diagnosis_operator.models.signals import Window
from diagnosis_operator.ports import SignalError

BACKEND = "loki"
# Pushing is idempotent in Loki (an entry equal to a stored one is dropped), so POST retries too.
_RETRIED_METHODS = READ_METHODS | {"POST"}
_BODY_LIMIT = 500


class LokiOptions(TypedDict, total=False):
    """The keyword arguments of ``LokiHTTP`` after the URL (``LokiClient`` passes them on)."""

    tenant: str | None
    headers: Mapping[str, str] | None
    bearer_token: str | None
    basic_auth: tuple[str, str] | None
    timeout: float
    retries: int
    backoff: float
    verify_tls: bool | str
    session: requests.Session | None


class LokiHTTP:
    """Requests to one Loki: base URL, tenant, credentials, timeout and retries."""

    def __init__(  # noqa: PLR0913 (keyword-only connection options: LokiOptions)
        self,
        url: str,
        *,
        tenant: str | None = None,
        headers: Mapping[str, str] | None = None,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        verify_tls: bool | str = True,
        session: requests.Session | None = None,
    ) -> None:
        """``session``, when given, is used as it is (its own retries); else one is built."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Loki URL must start with http:// or https://, got {url!r}")
        if bearer_token is not None and basic_auth is not None:
            raise ValueError("give either bearer_token or basic_auth, not both")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        retry = retry_policy(
            retries=retries, backoff=backoff, retry_read_errors=True, methods=_RETRIED_METHODS
        )
        self._session = session or retrying_session(retry=retry, verify=verify_tls)
        self._session.verify = verify_tls
        self._headers: dict[str, str] = dict(headers or {})
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        if bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._auth = basic_auth

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str,
        window: Window | None,
        params: Mapping[str, str | list[str]] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One request (the session retries); a failure or a non-2xx answer is a ``SignalError``."""
        try:
            response = self._session.request(
                method,
                f"{self.url}{path}",
                params=params,
                data=data,
                headers={**self._headers, **(headers or {})},
                auth=self._auth,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                reason=f"{method} {path}: {type(error).__name__}: {error}",
            ) from error
        if not 200 <= response.status_code < 300:
            raise SignalError(
                backend=BACKEND,
                query=query,
                window=window,
                status=response.status_code,
                body=response.text.strip(),
                reason=f"{method} {path}",
            )
        return response

    def get_json(
        self,
        path: str,
        *,
        query: str,
        window: Window | None,
        params: Mapping[str, str | list[str]],
    ) -> Any:
        """A ``GET`` whose answer must be JSON with ``status: success``."""
        response = self.request("GET", path, query=query, window=window, params=params)
        try:
            body = response.json()
        except ValueError as error:
            raise self._unreadable(response, path, query, window, "response is not JSON") from error
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self._unreadable(response, path, query, window, "status is not success")
        return body

    def ready(self) -> bool:
        """``GET /ready`` answers 200 when Loki can serve."""
        try:
            response = self._session.get(
                f"{self.url}/ready", headers=self._headers, auth=self._auth, timeout=self.timeout
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    @staticmethod
    def _unreadable(
        response: requests.Response, path: str, query: str, window: Window | None, what: str
    ) -> SignalError:
        return SignalError(
            backend=BACKEND,
            query=query,
            window=window,
            status=response.status_code,
            body=response.text[:_BODY_LIMIT],
            reason=f"GET {path}: {what}",
        )
