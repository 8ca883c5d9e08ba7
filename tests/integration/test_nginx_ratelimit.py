"""rate-limit-client on a real nginx: deny and rate-limit one 127.0.0.x, serve the others.

The backend renders its include files into the nginx conf dir and reloads nginx;
requests come from distinct loopback source addresses.  Expiry runs with an
injected ``now``: the rule disappears and the address is served again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnosis_operator.adapters.traffic.nginx import DirectorySink, NginxBackend
from diagnosis_operator.core.remediation.ratelimit import expired, plan_rules
from diagnosis_operator.models.actions import RateLimitPolicy, RuleMode
from tests.services.nginx import NginxFactory, NginxServer

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0
OFFENDER = "127.0.0.2"
BYSTANDER = "127.0.0.3"
OPERATOR = "127.0.0.1"

SERVERS = """\
include @CONF@/diag/diagnosis-operator-http.conf;
server {
    listen 127.0.0.1:@PORT@;
    include @CONF@/diag/diagnosis-operator-server.conf;
    # Static content: a "return" would answer in the rewrite phase, before access
    # checks and limit_req run.
    location / { root @CONF@/html; }
}
"""


@pytest.fixture
def nginx(nginx_factory: NginxFactory) -> tuple[NginxServer, NginxBackend]:
    # Start with the files an empty rule set renders (nginx needs the includes to exist).
    empty = NginxBackend(sink=DirectorySink(directory=Path("/nonexistent"), reload=lambda: None))
    files = {f"diag/{name}": text for name, text in empty.files([]).items()}
    files["html/index.html"] = "ok\n"
    server = nginx_factory(servers=SERVERS, files=files)
    backend = NginxBackend(
        sink=DirectorySink(directory=server.conf_dir / "diag", reload=server.reload)
    )
    return server, backend


def _policy(mode: str, *, rps: float = 1 / 60) -> RateLimitPolicy:
    # The operator's own address and a "health checker" are allow-listed.
    return RateLimitPolicy.model_validate(
        {
            "ladder": [{"mode": mode, "ttlSeconds": 300, "requestsPerSecond": rps}],
            "allow": [f"{OPERATOR}/32", "127.0.0.200/32"],
            "maxPrefixV4": 24,
        }
    )


def test_deny_then_expire(nginx: tuple[NginxServer, NginxBackend]) -> None:
    server, backend = nginx
    assert server.request("/", client_ip=OFFENDER)[0] == 200

    plan = plan_rules(
        clients=[OFFENDER, OPERATOR, "127.0.0.0/16"],
        policy=_policy("deny"),
        history=[],
        now=NOW,
        reason="flood",
    )
    assert [str(rule.network) for rule in plan.rules] == [f"{OFFENDER}/32"]
    assert {r.client: r.reason for r in plan.refused}.keys() == {OPERATOR, "127.0.0.0/16"}
    backend.apply(rules=plan.rules)

    assert server.request("/", client_ip=OFFENDER)[0] == 403
    assert server.request("/", client_ip=BYSTANDER)[0] == 200
    assert server.request("/", client_ip=OPERATOR)[0] == 200

    assert expired(rules=backend.active(), now=NOW + 299) == ()
    gone = expired(rules=backend.active(), now=NOW + 300)
    assert gone == plan.rules
    backend.remove(rules=gone)
    assert backend.active() == ()
    assert server.request("/", client_ip=OFFENDER)[0] == 200


def test_rate_limit_then_expire(nginx: tuple[NginxServer, NginxBackend]) -> None:
    server, backend = nginx
    plan = plan_rules(
        clients=[OFFENDER], policy=_policy("rate-limit"), history=[], now=NOW, reason="retry loop"
    )
    (rule,) = plan.rules
    assert rule.mode is RuleMode.RATE_LIMIT
    backend.apply(rules=plan.rules)

    # 1 request per minute: the first passes, the next ones in the same minute are limited.
    statuses = [server.request("/", client_ip=OFFENDER)[0] for _ in range(5)]
    assert statuses[0] == 200
    assert set(statuses[1:]) == {429}
    # Others are not counted against the offender's budget.
    assert [server.request("/", client_ip=BYSTANDER)[0] for _ in range(5)] == [200] * 5

    backend.remove(rules=expired(rules=backend.active(), now=rule.expires_at))
    assert [server.request("/", client_ip=OFFENDER)[0] for _ in range(3)] == [200] * 3


def test_a_config_nginx_refuses_is_rolled_back(nginx: tuple[NginxServer, NginxBackend]) -> None:
    server, backend = nginx
    plan = plan_rules(
        clients=[OFFENDER], policy=_policy("deny"), history=[], now=NOW, reason="flood"
    )
    backend.apply(rules=plan.rules)
    sink = backend.sink
    assert isinstance(sink, DirectorySink)
    with pytest.raises(Exception, match=r"invalid parameter"):
        sink.write(files={"diagnosis-operator-server.conf": "deny not-an-address;\n"})
    # The previous, valid files are back and still enforced after another reload.
    server.reload()
    assert server.request("/", client_ip=OFFENDER)[0] == 403
    assert server.request("/", client_ip=BYSTANDER)[0] == 200
