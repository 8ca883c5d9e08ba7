"""Skewed host clocks: a host's log lines are read at the time they happened."""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.clock_skew import (
    clock_offsets,
    corrected,
    host_of,
    hosts_of,
    series_offset,
)
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    LogLine,
    LogStream,
    Series,
    SignalSet,
    Window,
)

STEP = 15.0
WINDOW = Window(start=0.0, end=3600.0)
GRID = tuple(STEP * i for i in range(241))


def _clock(instance: str, behind: float, *, lag: float = STEP, name: str = "") -> Series:
    """A host clock read on a range query's grid: each step shows a reading up to a step old."""
    return Series(
        name or "node_time_seconds",
        Labels({"job": "db", "instance": instance}),
        GRID,
        tuple(ts - lag - behind for ts in GRID),
    )


def _stream(instance: str, *stamps: float) -> LogStream:
    return LogStream(
        Labels({"job": "db", "instance": instance}),
        tuple(LogLine(ts=ts, line=f"line at {ts}") for ts in stamps),
    )


def test_host_of_an_address_label() -> None:
    assert host_of("10.1.2.3:9104") == "10.1.2.3"
    assert host_of("[fd00::7]:9100") == "fd00::7"
    assert host_of("db-host") == "db-host"
    assert host_of("fd00::7") == "fd00::7"  # a bare IPv6 address has no port to cut
    assert hosts_of({"instance": "10.1.2.3:9100", "node": "node-a"}) == {"10.1.2.3", "node-a"}


def test_a_slow_clock_is_measured_within_half_a_step() -> None:
    offset = series_offset(_clock("10.1.2.3:9100", 540.0), step=STEP)
    assert offset is not None
    assert abs(offset - 540.0) <= STEP / 2.0


def test_a_fast_clock_is_negative() -> None:
    offset = series_offset(_clock("10.1.2.3:9100", -300.0), step=STEP)
    assert offset is not None
    assert abs(offset + 300.0) <= STEP / 2.0


def test_a_clock_in_step_read_a_step_late_is_not_skewed() -> None:
    assert series_offset(_clock("10.1.2.3:9100", 0.0, lag=STEP), step=STEP) is None
    assert series_offset(_clock("10.1.2.3:9100", 3.0, lag=0.0), step=STEP) is None


def test_scattered_readings_are_no_steady_offset() -> None:
    wild = Series(
        "node_time_seconds",
        Labels({"instance": "10.1.2.3:9100"}),
        GRID,
        tuple(ts - (600.0 if i % 2 else 0.0) for i, ts in enumerate(GRID)),
    )
    assert series_offset(wild, step=STEP) is None


def test_too_few_readings_say_nothing() -> None:
    short = Series("node_time_seconds", Labels({"instance": "h:1"}), (0.0, 15.0), (-600.0, -585.0))
    assert series_offset(short, step=STEP) is None


def test_only_clock_series_measure_a_clock() -> None:
    other = _clock("10.1.2.3:9100", 540.0, name="node_boot_time_seconds")
    assert clock_offsets([ComponentSignals(component="db", series=(other,))], step=STEP) == ()
    windows = _clock("10.1.2.3:9182", 540.0, name="windows_time_current_timestamp_seconds")
    found = clock_offsets([ComponentSignals(component="db", series=(windows,))], step=STEP)
    assert [c.names for c in found] == [frozenset({"10.1.2.3"})]


def test_lines_of_the_skewed_host_move_and_others_stay() -> None:
    db = ComponentSignals(
        component="db",
        series=(_clock("10.1.2.3:9100", 540.0),),
        log_samples=(_stream("10.1.2.3:9104", 660.0, 3500.0),),
        log_counts=(LogCount(Labels({"instance": "10.1.2.3:9104"}), (660.0, 675.0), (2.0, 1.0)),),
    )
    api = ComponentSignals(component="api", log_samples=(_stream("10.9.9.9:8080", 660.0),))
    moved, notes = corrected(SignalSet(window=WINDOW, step=STEP, components={"db": db, "api": api}))
    lines = moved.components["db"].log_samples[0].lines
    # 660 s as stamped is about 1200 s on the scrape clock; 3500 s lands past the window's end
    assert len(lines) == 1
    assert abs(lines[0].ts - 1200.0) <= STEP / 2.0
    count = moved.components["db"].log_counts[0]
    assert all(ts % STEP == 0.0 for ts in count.timestamps)
    assert abs(count.timestamps[0] - 1200.0) <= STEP
    assert moved.components["api"].log_samples[0].lines[0].ts == 660.0
    assert len(notes) == 1 and "db" in notes[0] and "10.1.2.3" in notes[0]


def test_a_clock_measured_by_one_component_moves_another_components_lines_on_that_host() -> None:
    node = ComponentSignals(component="node", series=(_clock("10.1.2.3:9100", -120.0),))
    db = ComponentSignals(component="db", log_samples=(_stream("10.1.2.3:3306", 1000.0),))
    moved, notes = corrected(
        SignalSet(window=WINDOW, step=STEP, components={"node": node, "db": db})
    )
    assert abs(moved.components["db"].log_samples[0].lines[0].ts - 880.0) <= STEP / 2.0
    assert len(notes) == 1 and "ahead of" in notes[0]


def test_no_skewed_clock_leaves_the_set_as_it_is() -> None:
    db = ComponentSignals(
        component="db",
        series=(_clock("10.1.2.3:9100", 0.0),),
        log_samples=(_stream("10.1.2.3:9104", 660.0),),
    )
    signals = SignalSet(window=WINDOW, step=STEP, components={"db": db})
    assert corrected(signals) == (signals, [])
