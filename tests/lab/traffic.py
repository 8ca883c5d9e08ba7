"""Client traffic through the lab's nginx: steady users, and abusive clients.

Every loop is bounded by a duration and a request count; every client binds a
127.0.0.x source address, so nginx logs it as the client.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

USERS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
USER_AGENT = "lab-shopper/1.0"


@dataclass
class Tally:
    """Answers by status (0: no answer), shared by the client threads."""

    counts: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.counts[status] += 1


def request(url: str, path: str, *, client: str, agent: str, timeout: float = 20.0) -> int:
    """One GET from ``client`` (a 127.0.0.x address); the status, 0 when none came."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout, source_address=(client, 0)
    )
    try:
        connection.request("GET", path, headers={"User-Agent": agent})
        response = connection.getresponse()
        response.read()
        return int(response.status)
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


def shopper_path(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return f"/api/items?id={rng.randint(1, 2000)}"
    return f"/api/orders?customer={rng.randint(0, 4999)}"


def users(
    url: str,
    *,
    seconds: float,
    rate: float = 3.0,
    clients: tuple[str, ...] = USERS,
    stop: threading.Event | None = None,
) -> Tally:
    """Each client about ``rate`` requests a second for ``seconds``; blocks until done."""
    tally = Tally()
    stop = stop or threading.Event()
    threads = [
        threading.Thread(target=_user, args=(url, client, rate, seconds, stop, tally), daemon=True)
        for client in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def _user(
    url: str, client: str, rate: float, seconds: float, stop: threading.Event, tally: Tally
) -> None:
    rng = random.Random(client)
    deadline = time.monotonic() + seconds
    budget = int(rate * seconds) + 1
    while budget > 0 and time.monotonic() < deadline and not stop.is_set():
        started = time.monotonic()
        tally.add(request(url, shopper_path(rng), client=client, agent=USER_AGENT))
        budget -= 1
        stop.wait(max(0.0, 1.0 / rate - (time.monotonic() - started)))


def hammer(
    url: str,
    *,
    client: str,
    seconds: float,
    threads: int = 4,
    max_requests: int = 20_000,
    path: str = "/api/items?id=7",
    agent: str = "bulk-fetcher/2.1",
    retry_only_failures: bool = False,
    stop: threading.Event | None = None,
) -> Tally:
    """One client in a tight loop (``threads`` at once), or retrying each failure at once.

    With ``retry_only_failures`` the client acts like a naive retry wrapper: it sends
    a request about every 200 ms and, on a failure, repeats it immediately.  It ends
    after ``seconds``, ``max_requests`` or once ``stop`` is set.
    """
    tally = Tally()
    deadline = time.monotonic() + seconds
    remaining = [max_requests]
    lock = threading.Lock()
    stop = stop or threading.Event()

    def loop() -> None:
        while time.monotonic() < deadline and not stop.is_set():
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            status = request(url, path, client=client, agent=agent, timeout=10.0)
            tally.add(status)
            if retry_only_failures and status not in (0,) and status < 500:
                time.sleep(0.2)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return tally
