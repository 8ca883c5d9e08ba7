"""The one HTTP session of the adapters: ``requests`` with urllib3's ``Retry``.

Prometheus and Loki are asked through a session built here, so both retry
alike: connection failures, 429, 500 (Loki and Prometheus answer a query that
timed out or hit a busy querier with 500) and the gateway statuses (502, 503, 504) are
retried with exponential backoff, a ``Retry-After`` header is honoured (up to
``max_backoff`` seconds), and any other answer is returned at once: a bad
query stays bad.  After the last retry the last answer is returned, not
raised, so the adapter can still say what was asked and what came back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

__all__ = ["RETRY_STATUSES", "retry_policy", "retrying_session"]

# Statuses worth asking again: throttled, a transient server error, or a gateway that
# could not reach the backend (the adapters retried these before they shared a session).
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
# Methods retried by default: reads.  An adapter whose POSTs are idempotent adds POST.
READ_METHODS: Final = frozenset({"GET", "HEAD"})


def retry_policy(
    *,
    retries: int,
    backoff: float,
    max_backoff: float = 10.0,
    retry_read_errors: bool = False,
    methods: Iterable[str] = READ_METHODS,
) -> Retry:
    """urllib3's ``Retry`` for ``retries`` more attempts after the first.

    Waits ``backoff * 2**(n-1)`` seconds before the n-th retry (urllib3 does
    not wait before the first), at most ``max_backoff``; a ``Retry-After`` of
    the answer replaces that wait, also capped at ``max_backoff``.  A read
    error (the request reached the server, no answer came in time) is retried
    only with ``retry_read_errors``: a slow query asked again is as slow.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries!r}")
    if backoff < 0 or max_backoff < 0:
        raise ValueError("backoff and max_backoff must be >= 0")
    return Retry(
        total=retries,
        connect=retries,
        read=retries if retry_read_errors else False,
        status=retries,
        allowed_methods=frozenset(method.upper() for method in methods),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=max_backoff,
        # Retry-After is whole seconds; urllib3 caps it at an integer.
        retry_after_max=math.ceil(max_backoff),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def retrying_session(*, retry: Retry, verify: bool | str = True) -> requests.Session:
    """A ``requests.Session`` whose every http(s) request follows ``retry``.

    ``verify`` is ``requests``' TLS setting: True, False or a CA bundle path.
    """
    session = requests.Session()
    session.verify = verify
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
