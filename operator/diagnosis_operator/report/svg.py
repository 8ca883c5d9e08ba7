"""The layout of the report's two SVG figures: the key-signal plot and the causal chain.

Pure: the result and its chain in, positioned shapes out; the HTML template draws them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    DiagnosisResult,
    KeySignal,
    TimelineEvent,
)
from diagnosis_operator.models.signals import Window
from diagnosis_operator.report._chain import (
    AGGRAVATING,
    PROPAGATION,
    ROOT,
    SYMPTOM,
    Chain,
    Layer,
    event_key,
)
from diagnosis_operator.report._format import clock, num, stamp

PALETTE = ("#c0392b", "#2e86c1", "#d68910", "#239b56", "#7d3c98", "#17a589", "#b9770e", "#5d6d7e")

# Enough to read a plot and a chain; the rest stays in the JSON.
_MAX_PLOTTED_SIGNALS = 24
_MAX_POINTS_PER_SIGNAL = 480
_MAX_BOXES_PER_COLUMN = 4
_MARKER_ROWS = 4
_LABEL_CHAR_WIDTH = 7.0

# The plot's geometry.
_PLOT_WIDTH, _PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP = 1200, 300, 20, 16 + _MARKER_ROWS * 15
_LANE_HEIGHT, _LANE_GAP = 40.0, 8.0

# The chain's geometry.
_BOX_W, _BOX_H, _COL_GAP, _ROW_GAP, _MARGIN = 210.0, 58.0, 70.0, 14.0, 20.0


@dataclass(frozen=True)
class Lane:
    label: str
    detail: str
    query: str
    anomalous: bool
    color: str
    top: float
    height: float
    points: str
    minimum: str
    maximum: str


@dataclass(frozen=True)
class Marker:
    x: float
    label: str
    title: str
    color: str
    label_y: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class EventDot:
    x: float
    color: str
    title: str


@dataclass(frozen=True)
class SignalPlot:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lanes: tuple[Lane, ...]
    markers: tuple[Marker, ...]
    ticks: tuple[Tick, ...]
    events: tuple[EventDot, ...]
    events_y: float
    hidden: int
    legend: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Box:
    key: str
    x: float
    y: float
    width: float
    height: float
    title: str
    subtitle: str
    role: str
    color: str


@dataclass(frozen=True)
class Arrow:
    path: str
    role: str
    label: str


@dataclass(frozen=True)
class ChainGraph:
    width: int
    height: int
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]


def component_colors(chain: Chain, result: DiagnosisResult) -> dict[str, str]:
    names = [layer.component for layer in chain.told_in_order()]
    for name in [k.component for k in result.key_signals] + [t.component for t in result.timeline]:
        if name not in names:
            names.append(name)
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}


# --------------------------------------------------------------------------- the signal plot


def _thin(timestamps: Sequence[float], values: Sequence[float]) -> list[tuple[float, float]]:
    """At most ``_MAX_POINTS_PER_SIGNAL`` points, keeping each bucket's min and max."""
    pairs = [(t, v) for t, v in zip(timestamps, values, strict=True) if math.isfinite(v)]
    if len(pairs) <= _MAX_POINTS_PER_SIGNAL:
        return pairs
    buckets = _MAX_POINTS_PER_SIGNAL // 2
    size = math.ceil(len(pairs) / buckets)
    kept: list[tuple[float, float]] = []
    for start in range(0, len(pairs), size):
        chunk = pairs[start : start + size]
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        kept.extend(sorted({low, high}))
    return kept


def _time_range(result: DiagnosisResult) -> tuple[float, float]:
    start, end = result.window.start, result.window.end
    for signal in result.key_signals:
        if signal.timestamps:
            start = min(start, signal.timestamps[0])
            end = max(end, signal.timestamps[-1])
    return start, end


def _nice_step(span: float) -> float:
    for step in (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if span / step <= 10:
            return float(step)
    return 86400.0 * math.ceil(span / 86400 / 10)


@dataclass(frozen=True)
class _TimeAxis:
    """Where a time falls on the plot's x axis."""

    start: float
    end: float

    @property
    def span(self) -> float:
        return max(self.end - self.start, 1.0)

    def x(self, ts: float) -> float:
        plot_width = _PLOT_WIDTH - _PLOT_LEFT - _PLOT_RIGHT
        return round(_PLOT_LEFT + (ts - self.start) / self.span * plot_width, 1)


def _shown_signals(result: DiagnosisResult, chain: Chain) -> tuple[list[KeySignal], int]:
    """The signals drawn, in chain order, and how many are left out."""
    order = {layer.component: index for index, layer in enumerate(chain.told_in_order())}
    ranked = sorted(
        result.key_signals,
        key=lambda s: (not s.anomalous, order.get(s.component, len(order)), s.component, s.signal),
    )
    shown = ranked[:_MAX_PLOTTED_SIGNALS]
    shown.sort(key=lambda s: (order.get(s.component, len(order)), not s.anomalous, s.signal))
    return shown, len(ranked) - len(shown)


def _lane(signal: KeySignal, *, lane_top: float, axis: _TimeAxis, color: str) -> Lane:
    pairs = _thin(signal.timestamps, signal.values)
    values = [v for _, v in pairs]
    low = min(values, default=0.0)
    high = max(values, default=0.0)
    spread = high - low

    def y_of(value: float) -> float:
        fraction = 0.5 if spread == 0 else (value - low) / spread
        return round(lane_top + _LANE_HEIGHT - 3 - fraction * (_LANE_HEIGHT - 6), 1)

    return Lane(
        label=signal.signal,
        detail=signal.component + (f" {signal.instance}" if signal.instance else ""),
        query=signal.query,
        anomalous=signal.anomalous,
        color=color,
        top=lane_top,
        height=_LANE_HEIGHT,
        points=" ".join(f"{axis.x(t)},{y_of(v)}" for t, v in pairs),
        minimum=num(low),
        maximum=num(high),
    )


def _markers(
    result: DiagnosisResult, *, axis: _TimeAxis, colors: Mapping[str, str]
) -> tuple[Marker, ...]:
    """A dashed line at each component's first event, labels spread over a few rows."""
    onsets: dict[str, TimelineEvent] = {}
    for event in sorted(result.timeline, key=event_key):
        onsets.setdefault(event.component, event)
    markers: list[Marker] = []
    row_ends: list[float] = []  # right edge of the last label in each row
    for event in sorted(onsets.values(), key=event_key):
        x = axis.x(event.ts)
        label = f"{event.component} {clock(event.ts, window=result.window)}"
        row = next((i for i, end in enumerate(row_ends) if end < x), None)
        if row is None:
            row = len(row_ends) % _MARKER_ROWS if len(row_ends) >= _MARKER_ROWS else len(row_ends)
            if row == len(row_ends):
                row_ends.append(0.0)
        row_ends[row] = x + 8 + _LABEL_CHAR_WIDTH * min(len(label), 28)
        markers.append(
            Marker(
                x=x,
                label=label,
                title=f"{event.component}: {event.event} ({stamp(event.ts)})",
                color=colors.get(event.component, PALETTE[-1]),
                label_y=16 + row * 15,
            )
        )
    return tuple(markers)


def _ticks(axis: _TimeAxis, *, window: Window) -> tuple[Tick, ...]:
    step = _nice_step(axis.span)
    ticks: list[Tick] = []
    tick = math.ceil(axis.start / step) * step
    while tick <= axis.end:
        ticks.append(Tick(x=axis.x(tick), label=clock(tick, window=window)))
        tick += step
    return tuple(ticks)


def signal_plot(result: DiagnosisResult, chain: Chain, colors: Mapping[str, str]) -> SignalPlot:
    shown, hidden = _shown_signals(result, chain)
    axis = _TimeAxis(*_time_range(result))
    lanes = tuple(
        _lane(
            signal,
            lane_top=_PLOT_TOP + index * (_LANE_HEIGHT + _LANE_GAP),
            axis=axis,
            color=colors.get(signal.component, PALETTE[-1]),
        )
        for index, signal in enumerate(shown)
    )
    plot_bottom = _PLOT_TOP + max(len(lanes), 1) * (_LANE_HEIGHT + _LANE_GAP)
    events_y = plot_bottom + 10
    events = tuple(
        EventDot(
            x=axis.x(event.ts),
            color=colors.get(event.component, PALETTE[-1]),
            title=f"{stamp(event.ts)} {event.component}: {event.event}",
        )
        for event in result.timeline
    )
    legend = tuple((name, colors[name]) for name in colors if name in {s.component for s in shown})
    return SignalPlot(
        width=_PLOT_WIDTH,
        height=int(events_y + 40),
        left=_PLOT_LEFT,
        right=_PLOT_WIDTH - _PLOT_RIGHT,
        top=_PLOT_TOP,
        bottom=int(plot_bottom),
        lanes=lanes,
        markers=_markers(result, axis=axis, colors=colors),
        ticks=_ticks(axis, window=result.window),
        events=events,
        events_y=events_y,
        hidden=hidden,
        legend=legend,
    )


# --------------------------------------------------------------------------- the causal chain

# A box before it is placed: (title, subtitle, role, color key).
_Spec = tuple[str, str, str, str]


def _client_specs(result: DiagnosisResult, role: str) -> list[_Spec]:
    return [
        (f"client {c.ip}", f"{c.pattern.value}, {c.requests} requests", role, CLIENT_CAUSE)
        for c in result.clients
    ]


def _layer_column(layer: Layer, result: DiagnosisResult) -> list[_Spec]:
    if layer.affected:
        column = [
            (layer.component, a.instance, layer.role, layer.component) for a in layer.affected
        ]
    elif layer.role == ROOT and result.root_cause.instance:
        column = [(layer.component, result.root_cause.instance, ROOT, layer.component)]
    else:
        subtitle = {ROOT: "root cause", PROPAGATION: "degraded", SYMPTOM: "symptom"}[layer.role]
        column = [(layer.component, subtitle, layer.role, layer.component)]
    if len(column) > _MAX_BOXES_PER_COLUMN:
        extra = len(column) - _MAX_BOXES_PER_COLUMN + 1
        column = [
            *column[: _MAX_BOXES_PER_COLUMN - 1],
            (layer.component, f"+{extra} more", layer.role, layer.component),
        ]
    return column


def _columns(result: DiagnosisResult, chain: Chain) -> list[list[_Spec]]:
    """Each column: the boxes of one layer, root first."""
    columns: list[list[_Spec]] = []
    if result.root_cause.component == CLIENT_CAUSE:
        columns.append(
            _client_specs(result, ROOT)
            or [("client traffic", "abusive clients", ROOT, CLIENT_CAUSE)]
        )
    columns += [_layer_column(layer, result) for layer in chain.layers]
    if not chain.layers or chain.layers[-1].role != SYMPTOM:
        columns.append([("symptom", result.symptom or "as reported", SYMPTOM, SYMPTOM)])
    return columns


def _box(spec: _Spec, *, key: str, x: float, y: float, colors: Mapping[str, str]) -> Box:
    title, subtitle, role, color_key = spec
    return Box(
        key=key,
        x=x,
        y=y,
        width=_BOX_W,
        height=_BOX_H,
        title=title,
        subtitle=subtitle,
        role=role,
        color=colors.get(color_key, PALETTE[-1]),
    )


def _place_columns(
    columns: Sequence[Sequence[_Spec]],
    *,
    main_top: float,
    main_height: float,
    colors: Mapping[str, str],
) -> list[list[Box]]:
    placed: list[list[Box]] = []
    for col_index, column in enumerate(columns):
        x = _MARGIN + col_index * (_BOX_W + _COL_GAP)
        column_height = len(column) * _BOX_H + (len(column) - 1) * _ROW_GAP
        y0 = main_top + (main_height - column_height) / 2
        placed.append(
            [
                _box(
                    spec,
                    key=f"c{col_index}r{row_index}",
                    x=x,
                    y=y0 + row_index * (_BOX_H + _ROW_GAP),
                    colors=colors,
                )
                for row_index, spec in enumerate(column)
            ]
        )
    return placed


def _chain_arrows(placed: Sequence[Sequence[Box]]) -> list[Arrow]:
    """Every box of a column points at every box of the next."""
    arrows: list[Arrow] = []
    for source_column, target_column in itertools.pairwise(placed):
        for source in source_column:
            for target in target_column:
                x1, y1 = source.x + source.width, source.y + source.height / 2
                x2, y2 = target.x - 4, target.y + target.height / 2
                mid = (x1 + x2) / 2
                arrows.append(
                    Arrow(
                        path=_curve((x1, y1), (mid, y1), (mid, y2), (x2, y2)),
                        role="chain",
                        label=f"{source.title} → {target.title}",
                    )
                )
    return arrows


def _place_feeders(
    feeders: Sequence[_Spec],
    *,
    above: bool,
    target_column: Sequence[Box],
    width: int,
    y: float,
    colors: Mapping[str, str],
) -> tuple[list[Box], list[Arrow]]:
    """A row of boxes above (aggravating) or below (clients) the column they feed."""
    count = len(feeders)
    row_width = count * _BOX_W + (count - 1) * _ROW_GAP
    centre = target_column[0].x + _BOX_W / 2
    x0 = min(max(_MARGIN, centre - row_width / 2), width - _MARGIN - row_width)
    goal = target_column[0] if above else target_column[-1]
    boxes: list[Box] = []
    arrows: list[Arrow] = []
    for index, spec in enumerate(feeders):
        key = f"{'a' if above else 'b'}{index}"
        box = _box(spec, key=key, x=x0 + index * (_BOX_W + _ROW_GAP), y=y, colors=colors)
        boxes.append(box)
        x1 = box.x + _BOX_W / 2
        x2 = goal.x + goal.width / 2
        if above:
            y1, y2 = box.y + _BOX_H, goal.y - 4
        else:
            y1, y2 = box.y, goal.y + goal.height + 4
        midy = (y1 + y2) / 2
        arrows.append(
            Arrow(
                path=_curve((x1, y1), (x1, midy), (x2, midy), (x2, y2)),
                role="feed",
                label=f"{spec[0]} → {goal.title}",
            )
        )
    return boxes, arrows


def chain_graph(result: DiagnosisResult, chain: Chain, colors: Mapping[str, str]) -> ChainGraph:
    columns = _columns(result, chain)
    above = [
        (layer.component, "aggravating", AGGRAVATING, layer.component)
        for layer in chain.aggravating
    ][:_MAX_BOXES_PER_COLUMN]
    client_cause = result.root_cause.component == CLIENT_CAUSE
    below = ([] if client_cause else _client_specs(result, "client"))[:_MAX_BOXES_PER_COLUMN]

    tallest = max(len(column) for column in columns)
    main_top = _MARGIN + (_BOX_H + 50 if above else 0)
    main_height = tallest * _BOX_H + (tallest - 1) * _ROW_GAP
    main_width = len(columns) * _BOX_W + (len(columns) - 1) * _COL_GAP
    feed_width = max(len(above), len(below)) * (_BOX_W + _ROW_GAP)
    width = int(2 * _MARGIN + max(main_width, feed_width))
    below_top = main_top + main_height + 50
    height = int(below_top + _BOX_H + _MARGIN if below else main_top + main_height + _MARGIN)

    placed = _place_columns(columns, main_top=main_top, main_height=main_height, colors=colors)
    boxes = [box for column in placed for box in column]
    arrows = _chain_arrows(placed)
    target_column = placed[_feed_column(chain, result, len(placed))]
    for feeders, is_above, y in ((above, True, _MARGIN), (below, False, below_top)):
        if not feeders:
            continue
        more_boxes, more_arrows = _place_feeders(
            feeders, above=is_above, target_column=target_column, width=width, y=y, colors=colors
        )
        boxes += more_boxes
        arrows += more_arrows
    return ChainGraph(width=width, height=height, boxes=tuple(boxes), arrows=tuple(arrows))


def _curve(*points: tuple[float, float]) -> str:
    """An SVG cubic Bézier path through a start, two control points and an end."""
    (x1, y1), (c1x, c1y), (c2x, c2y), (x2, y2) = points
    return f"M{x1:.1f},{y1:.1f} C{c1x:.1f},{c1y:.1f} {c2x:.1f},{c2y:.1f} {x2:.1f},{y2:.1f}"


def _feed_column(chain: Chain, result: DiagnosisResult, column_count: int) -> int:
    offset = 1 if result.root_cause.component == CLIENT_CAUSE else 0
    for index, layer in enumerate(chain.layers):
        if layer.role == PROPAGATION and layer.affected:
            return index + offset
    for index, layer in enumerate(chain.layers):
        if layer.role == PROPAGATION:
            return index + offset
    return column_count - 1
