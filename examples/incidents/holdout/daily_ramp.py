"""daily-ramp-no-incident: the morning ramp, nothing else (false-positive check).

2026-03-16, window 06:00-07:00 UTC.  Traffic through Traefik (JSON access
log, durations in nanoseconds) to ``storefront`` grows steadily from ~2 to ~6
req/s; the HPA adds a fourth pod at 06:34 and a fifth at 06:47 (fresh
counters, a short warm-up).  CPU, DB questions, connections and Redis ops grow
with the traffic; latency creeps up a little, errors stay at their baseline
(0.1 % 500s, scanners' 404s).  Benign WARN lines: lograge slow-view notes,
MySQL 8 aborted-connection notes, Redis background saves.

Expected: root ``none``; nothing affected, no client, no remediation.
"""

from __future__ import annotations

import json
import math

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, utc

PODS = {
    "10.30.1.4:8080": ("storefront-7f9d6c5b8-8wq2m", None),
    "10.30.2.17:8080": ("storefront-7f9d6c5b8-kx4zt", None),
    "10.30.3.22:8080": ("storefront-7f9d6c5b8-r2vhn", None),
    "10.30.1.40:8080": ("storefront-7f9d6c5b8-d6jfp", "06:34:10"),
    "10.30.3.51:8080": ("storefront-7f9d6c5b8-zq8ck", "06:47:40"),
}
PATHS = (
    "/",
    "/products/{id}",
    "/products/{id}",
    "/products/{id}",
    "/cart",
    "/search?q={q}",
    "/api/v1/stock/{id}",
)
SCANS = (
    "/wp-login.php",
    "/.env",
    "/phpmyadmin/index.php",
    "/.git/config",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
)


def build() -> Bundle:
    b = Bundle(
        name="storefront-morning-2026-03-16",
        description="on-call check during the morning ramp",
        start="2026-03-16T06:00:00Z",
        end="2026-03-16T07:00:00Z",
        seed=316600,
        symptom={"component": "front"},
        components=[
            Component("front", "proxy", {"app": "traefik"}, ["storefront"]),
            Component("storefront", "app", {"app": "storefront"}, ["shopdb", "shopcache"]),
            Component("shopdb", "mysql", {"app": "shopdb"}),
            Component("shopcache", "redis", {"app": "shopcache"}),
        ],
    )
    rng = b.rng
    t0, t1 = b.data_start, b.end

    def load(t: float) -> float:
        """1 at data start, 3 at the window's end (exponential ramp)."""
        return math.exp(math.log(3.0) * (t - t0) / (t1 - t0))

    def started(inst: str) -> float:
        when = PODS[inst][1]
        return b.at(when) if when else t0 - 1

    def live(t: float) -> list[str]:
        return [i for i in PODS if started(i) <= t]

    pool = client_pool(
        rng,
        [
            lambda r: f"86.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"109.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: (
                f"2a01:e0a:{r.randint(0, 0xFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(1, 0xFFFF):x}"
            ),
        ],
        500,
    )
    requests = []
    for ts in b.arrivals(lambda t: 2.0 * load(t)):
        ip, agent = pick_client(rng, pool)
        if rng.random() < 0.004:
            path, status, ip, agent = (
                rng.choice(SCANS),
                404,
                f"45.{rng.randint(130, 160)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "Mozilla/5.0 zgrab/0.x",
            )
        else:
            path = (
                rng.choice(PATHS)
                .replace("{id}", str(rng.randint(1, 40000)))
                .replace("{q}", rng.choice(("shoes", "jacket", "socks")))
            )
            status = 200 if rng.random() > 0.001 else 500
        alive = live(ts)
        inst = rng.choice(alive)
        per_pod = 2.0 * load(ts) / len(alive)
        dur = rng.lognormvariate(-3.1, 0.45) * (1.0 + 0.05 * per_pod)
        if ts - started(inst) < 60:
            dur *= 1.3
        requests.append((ts, ip, agent, path, status, dur, inst))

    # --- front: Traefik -------------------------------------------------------------------
    fl = {
        "app": "traefik",
        "instance": "10.30.0.8:9100",
        "pod": "traefik-5b7c6d8f4-pl9sx",
        "namespace": "traefik",
    }
    ft = b.scrapes("10.30.0.8:9100")
    svc = "shop-storefront-http@kubernetes"
    b.counter_from_events(
        "traefik_service_requests_total",
        "How many HTTP requests processed on a service, partitioned by status code, protocol, and method.",
        ft,
        (
            (
                ts + d,
                {**fl, "code": str(st), "method": "GET", "protocol": "http", "service": svc},
                1,
            )
            for ts, _, _, _, st, d, _ in requests
        ),
    )
    b.histogram_from_events(
        "traefik_service_request_duration_seconds",
        "How long it took to process the request on a service, partitioned by status code, protocol, and method.",
        ft,
        (
            (
                ts + d,
                {**fl, "code": str(st), "method": "GET", "protocol": "http", "service": svc},
                d,
            )
            for ts, _, _, _, st, d, _ in requests
        ),
        buckets=(0.1, 0.3, 1.2, 5.0),
    )
    b.gauge(
        "traefik_open_connections",
        "How many open connections exist, by entryPoint and protocol",
        {**fl, "entrypoint": "websecure", "protocol": "TCP"},
        ft,
        lambda t: 20 * load(t),
        noise=0.1,
        integer=True,
    )
    for ts, ip, agent, path, status, dur, inst in requests:
        port = rng.randint(1024, 65535)
        size = 0 if status == 404 else rng.randint(2000, 90000)
        b.log(
            ts + dur,
            {
                "app": "traefik",
                "namespace": "traefik",
                "pod": "traefik-5b7c6d8f4-pl9sx",
                "stream": "stdout",
            },
            json.dumps(
                {
                    "ClientAddr": f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}",
                    "ClientHost": ip,
                    "ClientPort": str(port),
                    "DownstreamContentSize": size,
                    "DownstreamStatus": status,
                    "Duration": int(dur * 1e9),
                    "OriginContentSize": size,
                    "OriginDuration": int(dur * 0.98e9),
                    "OriginStatus": status,
                    "Overhead": int(dur * 0.02e9),
                    "RequestAddr": "www.shop.example",
                    "RequestHost": "www.shop.example",
                    "RequestMethod": "GET",
                    "RequestPath": path,
                    "RequestProtocol": "HTTP/2.0",
                    "RouterName": "shop-storefront-www@kubernetes",
                    "ServiceName": svc,
                    "ServiceURL": f"http://{inst}",
                    "StartUTC": utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "entryPointName": "websecure",
                    "level": "info",
                    "msg": "",
                    "request_User-Agent": agent,
                    "time": utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ),
        )

    # --- storefront pods: lograge key=value ---------------------------------------------
    for inst, (pod, _when) in PODS.items():
        labels = {"app": "storefront", "namespace": "shop", "pod": pod, "instance": inst}
        begin = started(inst) + 8 if PODS[inst][1] else None
        times = b.scrapes(inst, begin=begin)
        mine = [r for r in requests if r[6] == inst]
        b.counter_from_events(
            "http_requests_total",
            "Requests by status",
            times,
            ((ts + d, {**labels, "code": str(st)}, 1) for ts, _, _, _, st, d, _ in mine),
            always=[{**labels, "code": "200"}],
        )
        b.histogram_from_events(
            "http_request_duration_seconds",
            "Request latency",
            times,
            ((ts + d, labels, d) for ts, *_, d, _ in mine),
        )
        share = {t: 2.0 * load(t) / len(live(t)) for t in times}
        born = started(inst)
        b.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            lambda t, share=share, born=born: (
                0.04 + 0.06 * share.get(t, 1.0) + (0.4 if t - born < 45 else 0.0)
            ),
            integer=False,
            initial=0.0 if PODS[inst][1] else 5120.0,
        )
        b.gauge(
            "puma_busy_threads",
            "Busy puma threads",
            labels,
            times,
            lambda t, share=share: 0.6 * share.get(t, 1.0),
            noise=0.3,
            integer=True,
        )
        ll = {"app": "storefront", "namespace": "shop", "pod": pod, "container": "web"}
        if PODS[inst][1]:
            b.log(
                started(inst) + 2,
                ll,
                f'level=info msg="Puma starting in single mode..." version=6.4.2 ts={utc(started(inst) + 2).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}',
            )
            b.log(
                started(inst) + 6,
                ll,
                f'level=info msg="Listening on http://0.0.0.0:8080" ts={utc(started(inst) + 6).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}',
            )
        for ts, _ip, _a, path, status, dur, _i in mine:
            when = utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if status == 500:
                b.log(
                    ts + dur,
                    ll,
                    f'level=error method=GET path={path} status=500 error="ActiveRecord::RecordNotFound: Couldn\'t find Product" duration={dur * 1000:.2f} ts={when}',
                )
            elif dur > 0.15 and rng.random() < 0.05:
                b.log(
                    ts + dur,
                    ll,
                    f'level=warn msg="slow view render" method=GET path={path} status={status} duration={dur * 1000:.2f} view={dur * 600:.2f} db={dur * 300:.2f} ts={when}',
                )
            elif rng.random() < 0.02:
                b.log(
                    ts + dur,
                    ll,
                    f"level=info method=GET path={path} format=html controller=ProductsController action=show status={status} duration={dur * 1000:.2f} view={dur * 500:.2f} db={dur * 300:.2f} ts={when}",
                )

    # --- shopdb: MySQL 8 text error log -----------------------------------------------------
    dl = {"app": "shopdb", "instance": "10.30.9.3:9104"}
    dt = b.scrapes("10.30.9.3:9104")
    b.gauge("mysql_up", "Whether the MySQL server is up.", dl, dt, lambda t: 1)
    b.gauge(
        "mysql_global_variables_max_connections",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        dl,
        dt,
        lambda t: 400,
    )
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 10 + 10 * len(live(t)) + 8 * load(t),
        noise=0.04,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 1 + 1.5 * load(t),
        noise=0.3,
        integer=True,
    )
    b.counter(
        "mysql_global_status_questions_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 70 * load(t),
        initial=4.4e8,
    )
    b.counter(
        "mysql_global_status_slow_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.0005,
        initial=77,
    )
    b.counter(
        "mysql_global_status_innodb_row_lock_waits_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.002 * load(t),
        initial=90,
    )
    b.counter(
        "mysql_global_status_bytes_sent_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 4.0e5 * load(t),
        initial=9.0e11,
    )
    el = {"app": "shopdb", "pod": "shopdb-0", "container": "mysql"}
    t = t0 + 100
    while t < t1:
        thread = rng.randint(2000, 9000)
        b.log(
            t,
            el,
            f"{utc(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {thread} [Note] [MY-010914] [Server] Aborted connection {thread} to db: 'shop' user: 'shop' host: '{rng.choice(list(PODS)).split(':')[0]}' (Got an error reading communication packets).",
        )
        t += rng.expovariate(1 / 500.0)
    b.log(
        t0 + 1500,
        el,
        f"{utc(t0 + 1500).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} 0 [Warning] [MY-010055] [Server] IP address '10.30.7.19' could not be resolved: Name or service not known",
    )

    # --- shopcache ---------------------------------------------------------------------------
    rl = {"app": "shopcache", "instance": "10.30.9.8:9121"}
    rt = b.scrapes("10.30.9.8:9121")
    b.gauge("redis_up", "Information about the Redis instance", rl, rt, lambda t: 1)
    b.gauge(
        "redis_memory_used_bytes",
        "memory_used_bytes metric",
        rl,
        rt,
        lambda t: 3.1e8 + 2e7 * load(t),
        noise=0.003,
        integer=True,
    )
    b.gauge("redis_memory_max_bytes", "memory_max_bytes metric", rl, rt, lambda t: 2147483648)
    b.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        rl,
        rt,
        lambda t: 10 * len(live(t)) + 4,
        integer=True,
    )
    b.counter(
        "redis_commands_processed_total",
        "commands_processed_total metric",
        rl,
        rt,
        lambda t: 140 * load(t),
        initial=3.0e9,
    )
    b.counter(
        "redis_keyspace_hits_total",
        "keyspace_hits_total metric",
        rl,
        rt,
        lambda t: 120 * load(t),
        initial=2.0e9,
    )
    b.counter(
        "redis_keyspace_misses_total",
        "keyspace_misses_total metric",
        rl,
        rt,
        lambda t: 9 * load(t),
        initial=1.1e8,
    )
    b.counter(
        "redis_evicted_keys_total", "evicted_keys_total metric", rl, rt, lambda t: 0.0, initial=0
    )
    rlog = {"app": "shopcache", "pod": "shopcache-0", "container": "redis"}
    t = t0 + 33
    while t < t1:
        b.log(
            t,
            rlog,
            f"1:M {utc(t).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * 100 changes in 300 seconds. Saving...",
        )
        b.log(
            t + 0.01,
            rlog,
            f"1:M {utc(t + 0.01).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * Background saving started by pid {rng.randint(100, 9000)}",
        )
        b.log(
            t + 2.2,
            rlog,
            f"1:M {utc(t + 2.2).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * Background saving terminated with success",
        )
        t += 300 + rng.uniform(0, 3)
    b.log(
        t0 + 2900,
        rlog,
        f"1:M {utc(t0 + 2900).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} # WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition.",
    )
    return b
