"""The Markdown and HTML reports and the JSON reader behind `diagnosis-operator report`."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from diagnosis_operator.entrypoints.cli.main import main
from diagnosis_operator.models.findings import (
    AbusiveClient,
    AffectedInstance,
    Candidate,
    DiagnosisResult,
    Evidence,
    KeySignal,
    ProposedRemediation,
    Recommendation,
    RootCause,
    TimelineEvent,
)
from diagnosis_operator.report import (
    ResultFormatError,
    render_html,
    render_markdown,
    result_from_json,
)
from tests.unit.test_report_samples import (
    END,
    HOSTILE,
    START,
    at,
    client_cause,
    full_incident,
    quiet,
)

# --------------------------------------------------------------------------- helpers


class _Elements(HTMLParser):
    """Collects (tag, attributes) of every element and the text inside <svg>."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.svg_text: list[str] = []
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "svg":
            self._svg_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._svg_depth:
            self.svg_text.append(data)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#")]


def outside_code(markdown: str) -> str:
    """The Markdown with fenced blocks and code spans removed."""
    without_blocks = re.sub(r"(?ms)^\s*(`{3,})[^\n]*\n.*?^\s*\1\s*$", "", markdown)
    return re.sub(r"(?<![\\`])(`+)(?!`).*?(?<![`\\])\1(?!`)", "", without_blocks)


def renamed(result: DiagnosisResult, names: dict[str, str]) -> DiagnosisResult:
    """The same diagnosis with every component renamed."""

    def rename(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes: dict[str, object] = {}
            for f in dataclasses.fields(value):
                current = getattr(value, f.name)
                if f.name in ("component", "target") and current in names:
                    changes[f.name] = names[current]
                elif (
                    isinstance(current, tuple) and current and dataclasses.is_dataclass(current[0])
                ):
                    changes[f.name] = tuple(rename(item) for item in current)
                elif dataclasses.is_dataclass(current) and not isinstance(current, type):
                    changes[f.name] = rename(current)
            return dataclasses.replace(value, **changes)
        return value

    out = rename(result)
    assert isinstance(out, DiagnosisResult)
    return out


def hostile(result: DiagnosisResult) -> DiagnosisResult:
    """Every free-text field of the diagnosis replaced by markup."""
    return with_free_text(result, HOSTILE)


def with_free_text(result: DiagnosisResult, evil: str) -> DiagnosisResult:
    """Every free-text field (not the component names) replaced by ``evil``."""
    return dataclasses.replace(
        result,
        symptom=evil,
        root_cause=dataclasses.replace(result.root_cause, summary=evil, instance=evil),
        candidates=tuple(dataclasses.replace(c, reasons=(evil,)) for c in result.candidates),
        affected=tuple(
            dataclasses.replace(a, instance=evil, reason=evil, pod=evil) for a in result.affected
        ),
        clients=tuple(dataclasses.replace(c, ip=evil, reason=evil) for c in result.clients),
        timeline=tuple(dataclasses.replace(t, event=evil) for t in result.timeline),
        evidence=tuple(
            dataclasses.replace(e, summary=evil, query=evil, line=evil, instance=evil)
            for e in result.evidence
        ),
        remediations=tuple(
            dataclasses.replace(r, target=evil, reason=evil) for r in result.remediations
        ),
        recommendations=tuple(
            dataclasses.replace(r, text=evil, because=evil) for r in result.recommendations
        ),
        key_signals=tuple(
            dataclasses.replace(k, signal=evil, query=evil, instance=evil)
            for k in result.key_signals
        ),
        warnings=(evil,),
    )


# --------------------------------------------------------------------------- Markdown


def test_markdown_tells_the_chain_from_the_root_up_to_the_symptom() -> None:
    text = render_markdown(full_incident())
    titles = headings(text)
    expected_order = [
        "## 1. Summary",
        "## 2. Evidence chain",
        "### 2.1 Root layer: db",
        "### 2.2 Propagation layer: orders-api",
        "### 2.3 Symptom layer: edge",
        "### 2.4 Aggravating factor: cache",
        "### 2.5 Abusive clients",
        "### 2.6 Timeline and causal chain",
        "## 3. Root cause and contributing factors",
        "## 4. Recommendations",
        "### 4.1 Immediate actions",
        "### 4.2 Short-term fixes",
        "### 4.3 Long-term hardening",
        "### 4.4 Remediation plan",
    ]
    assert [t for t in titles if t in expected_order] == expected_order
    assert "**Causal chain**: db → orders-api (10.9.3.7:8080) → edge" in text


def test_the_chain_ends_at_the_diagnosis_symptom_not_the_best_scored_symptom() -> None:
    result = full_incident()
    # orders-api scored as a symptom above the edge the diagnosis was asked about
    candidates = tuple(
        dataclasses.replace(c, role="symptom") if c.component == "orders-api" else c
        for c in result.candidates
    )
    text = render_markdown(dataclasses.replace(result, candidates=candidates))
    assert "**Causal chain**: db → orders-api (10.9.3.7:8080) → edge" in text
    assert "### 2.3 Symptom layer: edge" in text


def test_markdown_summary_names_scope_instances_and_root_cause_with_confidence() -> None:
    text = render_markdown(full_incident())
    summary = text.split("## 2.")[0]
    assert "**Symptom**: edge: 503 on /v3/orders" in summary
    assert "Local: 1 instance(s) of orders-api" in summary
    assert "`10.9.3.7:8080` (pod `shop/orders-api-7d9f-xk2`)" in summary
    assert "**Root cause**: db, kind mysql — confidence 83%" in summary
    assert "`203.0.113.50`" in summary


def test_each_evidence_item_has_time_content_inference_and_its_query() -> None:
    result = full_incident()
    text = render_markdown(result)
    items = re.split(r"\n- \*\*Evidence \d+: ", text)[1:]
    assert len(items) == len(result.evidence)
    for item in items:
        assert "**Time**: 2026-03-04 14:" in item
        assert "**Content**:" in item
        assert "**Inference**:" in item
        assert "**Query** (" in item
    assert "value 151 against a baseline of 12 (×12.6)" in text
    # The propagation inference is computed from the data: 3 minutes after the root's first sign.
    assert "degrades, 3 min after the root cause's first sign" in text
    assert '`mysql_global_status_threads_connected{job="db"}`' in text


def test_recommendations_sit_under_their_urgency_and_the_plan_shows_each_state() -> None:
    text = render_markdown(full_incident())
    immediate = text.split("### 4.1 Immediate actions")[1].split("### 4.2")[0]
    short_term = text.split("### 4.2 Short-term fixes")[1].split("### 4.3")[0]
    long_term = text.split("### 4.3 Long-term hardening")[1].split("### 4.4")[0]
    plan = text.split("### 4.4 Remediation plan")[1]
    assert "Kill the long-running transactions" in immediate
    assert "Add an index" in short_term
    assert "circuit breaker" in long_term
    assert "| `drain-pod` | `shop/orders-api-7d9f-xk2` | **denied** |" in plan
    assert (
        "| `kill-mysql-queries` | `db` | **proposed** | long lock waits | minSeconds=30 |" in plan
    )


def test_nothing_in_the_report_is_hard_coded_every_name_comes_from_the_data() -> None:
    names = {"db": "ledger-store", "orders-api": "billing", "cache": "sessions", "edge": "ingress"}
    neutral = with_free_text(full_incident(), "free text")
    text = render_markdown(renamed(neutral, names))
    for old, new in names.items():
        assert f"`{new}`" in text
        assert not re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", text), old
    assert "### 2.1 Root layer: ledger-store" in text
    assert "### 2.4 Aggravating factor: sessions" in text
    assert "10.9.3.7" not in text  # instances were replaced by free text too


def test_client_cause_starts_the_chain_at_the_clients() -> None:
    text = render_markdown(client_cause())
    assert (
        "**Root cause**: abusive client traffic (198.51.100.23, 198.51.100.24) — confidence 77%"
        in text
    )
    assert (
        "**Causal chain**: abusive client traffic (198.51.100.23, 198.51.100.24) → gateway" in text
    )
    assert "Root layer" not in text
    assert "### 2.1 Symptom layer: gateway" in text
    assert "| `198.51.100.23` | flood | 18,000 |" in text
    chain = text.split("### 2.3 Timeline and causal chain")[1]
    rows = chain.split("```text\n")[1].split("```")[0].splitlines()
    assert rows[0].startswith("14:10:00–14:15:00  abusive client traffic")  # the root comes first


def test_quiet_window_renders_a_short_no_incident_report() -> None:
    text = render_markdown(quiet())
    assert "no incident found" in text.lower()
    assert "No signal left its baseline." in text
    assert "Evidence chain" not in text
    assert "Recommendations" not in text
    assert len(text.splitlines()) < 20


def test_markdown_escapes_markup_outside_code_and_fences_log_lines() -> None:
    text = render_markdown(hostile(full_incident()))
    prose = outside_code(text)
    assert not re.search(r"(?<!\\)<(script|img)", prose)
    assert "\\<script\\>" in prose
    assert "**bold**" not in prose
    # Log lines are fenced blocks that the line itself cannot close.
    assert '    ```text\n    <script>alert("x")</script>' in text
    # Table rows keep their column count although the text has pipes in it.
    plan = text.split("### 4.4 Remediation plan")[1].split("\n\n")[1]
    for row in plan.splitlines():
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row


# --------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_has_the_plot_and_the_chain() -> None:
    result = full_incident()
    html = render_html(result)
    doc = parse(html)
    assert not doc.tags("script")
    assert not doc.tags("link")
    assert not [a for _, a in doc.elements if "src" in a or "href" in a]
    assert not [a for _, a in doc.elements if any("://" in v for v in a.values())]
    plots = [a for a in doc.tags("svg") if a.get("id") == "signal-plot"]
    chains = [a for a in doc.tags("svg") if a.get("id") == "causal-chain"]
    assert len(plots) == 1 and len(chains) == 1
    lanes = [a for a in doc.tags("g") if "lane" in a.get("class", "").split()]
    assert [a["data-signal"] for a in lanes] == [k.signal for k in result.key_signals]
    anomalous = [a["data-detail"] for a in lanes if "anomalous" in a["class"].split()]
    assert "orders-api 10.9.3.8:8080" not in anomalous
    assert "orders-api 10.9.3.7:8080" in anomalous
    assert len(doc.tags("polyline")) == len(result.key_signals)
    onsets = [a for a in doc.tags("g") if a.get("class") == "onset"]
    assert len(onsets) == len({t.component for t in result.timeline})


def test_html_chain_draws_root_affected_symptom_and_what_feeds_in() -> None:
    doc = parse(render_html(full_incident()))
    nodes = {
        (a["data-title"], a["data-subtitle"], a["class"])
        for a in doc.tags("g")
        if a.get("class", "").startswith("node")
    }
    assert ("db", "root cause", "node root") in nodes
    assert ("orders-api", "10.9.3.7:8080", "node propagation") in nodes
    assert ("edge", "symptom", "node symptom") in nodes
    assert ("cache", "aggravating", "node aggravating") in nodes
    assert ("client 203.0.113.50", "retry-loop, 41 requests", "node client") in nodes
    arrows = [a for a in doc.tags("path") if "arrow" in a.get("class", "")]
    assert sum("chain" in a["class"] for a in arrows) == 2  # db → orders-api → edge
    assert sum("feed" in a["class"] for a in arrows) == 2  # cache and the client feed in


def test_html_plot_positions_follow_the_data() -> None:
    """An anomalous step in the middle of the window is drawn in the middle of the lane."""
    base = full_incident()
    stamps = tuple(START + i * 60.0 for i in range(61))
    values = tuple(0.0 if i < 30 else 10.0 for i in range(61))
    result = dataclasses.replace(
        base, key_signals=(KeySignal("db", None, "step", "q", stamps, values, True),)
    )
    doc = parse(render_html(result))
    (points,) = [a["points"] for a in doc.tags("polyline")]
    pairs = [tuple(map(float, p.split(","))) for p in points.split()]
    xs = [x for x, _ in pairs]
    ys = [y for _, y in pairs]
    assert len(pairs) == 61
    low_y, high_y = max(ys), min(ys)  # SVG y grows downwards
    jump = next(i for i, y in enumerate(ys) if y == high_y)
    assert jump == 30
    assert xs[30] == pytest.approx((xs[0] + xs[-1]) / 2, abs=1)
    assert low_y > high_y


def test_html_thins_long_signals_but_keeps_their_peak() -> None:
    stamps = tuple(START + i * (END - START) / 20000 for i in range(20000))
    values = [1.0] * 20000
    values[12345] = 99.0
    signal = KeySignal("db", None, "dense", "q", stamps, tuple(values), True)
    doc = parse(render_html(dataclasses.replace(full_incident(), key_signals=(signal,))))
    (points,) = [a["points"] for a in doc.tags("polyline")]
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert len(ys) <= 500
    assert ys.count(min(ys)) == 1  # the single spike survived the thinning


def test_html_escapes_every_text_from_the_data() -> None:
    html = render_html(hostile(full_incident()))
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    doc = parse(html)
    assert not doc.tags("script") and not doc.tags("img")
    assert not [a for _, a in doc.elements if any(k.startswith("on") for k in a)]


def test_html_for_client_cause_and_quiet() -> None:
    doc = parse(render_html(client_cause()))
    roots = [a["data-title"] for a in doc.tags("g") if a.get("class") == "node root"]
    assert roots == ["client 198.51.100.23", "client 198.51.100.24"]
    quiet_html = render_html(quiet())
    assert 'id="no-incident"' in quiet_html
    assert 'id="causal-chain"' not in quiet_html
    assert "Evidence chain" not in quiet_html


# --------------------------------------------------------------------------- JSON in


@pytest.mark.parametrize("build", [full_incident, client_cause, quiet])
def test_result_from_json_inverts_to_json(build: object) -> None:
    assert callable(build)
    result = build()
    assert isinstance(result, DiagnosisResult)
    data = json.loads(json.dumps(result.to_json()))
    assert result_from_json(data) == result
    assert result_from_json(data).to_json() == data


def test_result_from_json_keeps_milliseconds_and_reads_every_field() -> None:
    result = DiagnosisResult(
        window=full_incident().window,
        root_cause=RootCause("x", "app", "x-1", 0.5, "s"),
        timeline=(TimelineEvent(at(1) + 0.25, "x", "e"),),
        evidence=(Evidence("x", full_incident().evidence[0].source, "q", "s", ts=at(2) + 0.125),),
        candidates=(Candidate("x", 0.5, "root", ("r1", "r2")),),
        affected=(AffectedInstance("x", "x-1", "r", pod="p", namespace="n"),),
        clients=(AbusiveClient("192.0.2.9", "r", 3, full_incident().clients[0].pattern),),
        remediations=(
            ProposedRemediation(
                full_incident().remediations[0].action, "x", "r", params={"a": [1, 2]}
            ),
        ),
        recommendations=(
            Recommendation("x", full_incident().recommendations[0].urgency, "t", "b"),
        ),
    )
    back = result_from_json(json.loads(json.dumps(result.to_json())))
    assert back == result
    assert back.timeline[0].ts == pytest.approx(at(1) + 0.25)


def test_result_from_json_ignores_fields_it_does_not_know() -> None:
    data = full_incident().to_json()
    data["engineVersion"] = "9.9"
    data["evidence"][0]["extra"] = {"anything": 1}
    assert result_from_json(data) == full_incident()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["evidence"][1].__setitem__("ts", "yesterday"),
            "evidence[1].ts: 'yesterday' is not an RFC 3339 time",
        ),
        (
            lambda d: d["rootCause"].__setitem__("confidence", "high"),
            "rootCause.confidence: expected a number, got a string",
        ),
        (
            lambda d: d["remediations"][0].__setitem__("action", "reboot-world"),
            "remediations[0].action: 'reboot-world' is not one of",
        ),
        (
            lambda d: d["keySignals"][2]["points"].__setitem__(3, [1]),
            "keySignals[2].points[3]: expected [timestamp, value]",
        ),
        (
            lambda d: d.__setitem__("clients", {"ip": "x"}),
            "clients: expected a list, got an object",
        ),
        (lambda d: d["window"].__setitem__("end", d["window"]["start"]), "window: window end"),
        (lambda d: d.pop("rootCause"), "rootCause: expected an object, got nothing"),
    ],
)
def test_result_from_json_says_which_field_is_wrong(change: object, message: str) -> None:
    data = json.loads(json.dumps(full_incident().to_json()))
    assert callable(change)
    change(data)
    with pytest.raises(ResultFormatError) as caught:
        result_from_json(data)
    assert message in str(caught.value)


def test_result_from_json_rejects_a_non_object() -> None:
    with pytest.raises(ResultFormatError, match="the document: expected an object, got a list"):
        result_from_json([1, 2])


# --------------------------------------------------------------------------- the command


def test_report_command_renders_a_saved_diagnosis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "result.json"
    saved.write_text(json.dumps(full_incident().to_json()), encoding="utf-8")
    out = tmp_path / "report.html"
    assert main(["report", "--input", str(saved), "--format", "html", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_html(full_incident())
    assert main(["report", "--input", str(saved)]) == 0
    assert capsys.readouterr().out == render_markdown(full_incident())


def test_report_command_explains_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"window": ', encoding="utf-8")
    assert main(["report", "--input", str(broken)]) == 2
    assert f"--input {broken} is not JSON" in capsys.readouterr().err
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"window": {"start": 5}}', encoding="utf-8")
    assert main(["report", "--input", str(wrong)]) == 2
    assert "window.start: expected a string, got a int" in capsys.readouterr().err
    assert main(["report", "--input", str(tmp_path / "missing.json")]) == 2
    assert "cannot read --input" in capsys.readouterr().err
