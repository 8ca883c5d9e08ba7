"""``python -m tests.loki_server --port N``: serve Loki's HTTP API on loopback."""

from __future__ import annotations

import argparse
import ipaddress

from tests.loki_server.server import LokiHTTPServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.loki_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument(
        "--max-entries",
        type=int,
        default=5000,
        help="max_entries_limit_per_query (Loki's default: 5000)",
    )
    parser.add_argument(
        "--require-tenant",
        action="store_true",
        help="answer 401 'no org id' without X-Scope-OrgID (auth_enabled)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error(f"--host must be a loopback address, got {args.host}")
    server = LokiHTTPServer(
        (args.host, args.port),
        max_entries=args.max_entries,
        require_tenant=args.require_tenant,
        verbose=args.verbose,
    )
    print(f"loki test server listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
