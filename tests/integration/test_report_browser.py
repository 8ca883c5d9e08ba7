"""The HTML report in a real browser: headless Chromium draws it and dumps its DOM.

The page is self-contained, so Chromium needs no network; the flags below also
switch off everything Chromium would fetch on its own.
"""

from __future__ import annotations

import os
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from diagnosis_operator.report import render_html
from tests.unit.test_report import hostile
from tests.unit.test_report_samples import client_cause, full_incident

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1400, 2000


def chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed (scripts/install-deps.sh installs it)")
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WIDTH},{HEIGHT}",
        *extra,
        page.as_uri(),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, f"{' '.join(command)} failed: {done.stderr[-2000:]}"
    return done


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[tuple[str, str]] = []  # (enclosing tag, text)
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.texts.append((self._stack[-1] if self._stack else "", data))

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def dump_dom(tmp_path: Path, page: Path) -> _Dom:
    dom = _Dom()
    dom.feed(chromium(tmp_path, page, "--dump-dom").stdout)
    return dom


def test_report_draws_in_chromium(tmp_path: Path) -> None:
    result = full_incident()
    page = tmp_path / "report.html"
    page.write_text(render_html(result), encoding="utf-8")
    shot = tmp_path / "report.png"
    chromium(tmp_path, page, f"--screenshot={shot}")

    assert shot.is_file()
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        rgb = image.convert("RGB")
        spread = ImageStat.Stat(rgb).stddev
        assert min(spread) > 10, f"screenshot looks blank: per-channel stddev {spread}"
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 200
        # The root cause's anomalous lane and chain box are drawn in its colour (#c0392b).
        root_colour = sum(count for count, colour in colours if colour == (0xC0, 0x39, 0x2B))
        assert root_colour > 500

    dom = dump_dom(tmp_path, page)
    svgs = {attrs.get("id") for attrs in dom.tags("svg")}
    assert {"signal-plot", "causal-chain"} <= svgs
    lanes = [a for a in dom.tags("g") if "lane" in a.get("class", "").split()]
    assert [a["data-signal"] for a in lanes] == [k.signal for k in result.key_signals]
    assert len(dom.tags("polyline")) == len(result.key_signals)
    nodes = {
        a["data-title"]: a["data-subtitle"] for a in dom.tags("g") if "node" in a.get("class", "")
    }
    assert nodes["db"] == "root cause"
    assert nodes["orders-api"] == result.affected[0].instance
    assert nodes["edge"] == "symptom"
    assert f"client {result.clients[0].ip}" in nodes
    svg_text = {text.strip() for tag, text in dom.texts if tag == "text"}
    assert result.affected[0].instance in svg_text
    assert "threads connected" in svg_text


def test_hostile_log_lines_stay_text_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render_html(hostile(full_incident())), encoding="utf-8")
    dom = dump_dom(tmp_path, page)
    assert not dom.tags("script")
    assert not dom.tags("img")
    assert not [a for _, a in dom.elements if any(k.startswith("on") for k in a)]
    log_texts = [text for tag, text in dom.texts if tag == "pre"]
    assert any('<script>alert("x")</script>' in text for text in log_texts)


def test_client_cause_report_draws_in_chromium(tmp_path: Path) -> None:
    result = client_cause()
    page = tmp_path / "client.html"
    page.write_text(render_html(result), encoding="utf-8")
    dom = dump_dom(tmp_path, page)
    roots = [a["data-title"] for a in dom.tags("g") if a.get("class") == "node root"]
    assert roots == [f"client {c.ip}" for c in result.clients]
