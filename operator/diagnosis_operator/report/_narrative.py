"""The sentences of the report: why a piece of evidence matters, how a layer stands.

Pure: chain layers and evidence in, text out.
"""

from __future__ import annotations

from diagnosis_operator.models.findings import CLIENT_CAUSE, DiagnosisResult, Evidence
from diagnosis_operator.models.signals import Window
from diagnosis_operator.report._chain import (
    AGGRAVATING,
    PROPAGATION,
    ROOT,
    SYMPTOM,
    Chain,
    Layer,
)
from diagnosis_operator.report._format import clock, duration, limited, num, percent

_FOLLOW_UPS = {
    ROOT: "another sign at the origin of the chain",
    PROPAGATION: "the failure keeps spreading here",
    SYMPTOM: "more of the failure users see",
    AGGRAVATING: "continued pressure from this factor",
}


def change_text(item: Evidence) -> str:
    if item.value is None:
        return ""
    if item.baseline is None:
        return f"value {num(item.value)}"
    text = f"value {num(item.value)} against a baseline of {num(item.baseline)}"
    if item.baseline == 0:
        return text + (" (absent before the incident)" if item.value != 0 else "")
    ratio = item.value / item.baseline
    if ratio >= 1.5:
        return text + f" (×{ratio:.1f})"
    if 0 <= ratio <= 1 / 1.5:
        return text + f" ({percent(ratio)} of baseline)"
    return text


def _relative(ts: float | None, onset: float | None) -> str | None:
    if ts is None or onset is None:
        return None
    delta = ts - onset
    if abs(delta) < 1:
        return "at the same moment as the root cause's first sign"
    when = duration(delta)
    return (
        f"{when} after the root cause's first sign"
        if delta > 0
        else (f"{when} before the root cause's first sign")
    )


def _magnitude(item: Evidence) -> str:
    """How strong one piece of evidence is on its own, read from value and baseline."""
    if item.value is None or item.baseline is None:
        return ""
    if item.baseline == 0:
        return "absent before the incident, so it came with it" if item.value != 0 else ""
    ratio = item.value / item.baseline
    if ratio >= 1.5:
        return f"{ratio:.1f} times its baseline, far outside normal variation"
    if 0 <= ratio <= 1 / 1.5:
        return f"down to {percent(ratio)} of its baseline"
    return "close to its baseline, so weak on its own"


def _follow_up(layer: Layer, ts: float | None, *, where: str, strength: str) -> str:
    """A later piece of evidence in a layer: how long after the layer's first sign."""
    since = (
        f"{duration(ts - layer.first_ts)} after this layer's first sign"
        if ts is not None and layer.first_ts is not None and ts - layer.first_ts >= 1
        else "together with this layer's first sign"
    )
    follow = _FOLLOW_UPS.get(layer.role, "seen in the window")
    return f"{where}: {follow}, {since}.{strength}"


def inference(
    item: Evidence, layer: Layer, chain: Chain, result: DiagnosisResult, *, first: bool
) -> str:
    """Why this piece of evidence matters where it sits in the chain."""
    ts = item.ts if item.ts is not None else layer.first_ts
    magnitude = _magnitude(item)
    strength = f" The signal is {magnitude}." if magnitude else ""
    where = f"`{item.instance}`" if item.instance else f"`{layer.component}`"
    if not first:
        return _follow_up(layer, ts, where=where, strength=strength)
    relative = _relative(ts, chain.root_onset)
    if layer.role == ROOT:
        confidence = percent(result.root_cause.confidence)
        return (
            f"{where} is where the chain starts (root cause, confidence {confidence}); "
            f"the layers above degrade after it.{strength}"
        )
    if layer.role == PROPAGATION:
        timing = f", {relative}" if relative else ""
        local = ""
        if layer.affected:
            local = (
                " Only the listed instances degrade while their siblings stay healthy,"
                " so the fault is local to them."
            )
        return (
            f"{where} sits between the root cause and the symptom and degrades{timing}: "
            f"it passes the failure upward.{strength}{local}"
        )
    if layer.role == SYMPTOM:
        timing = f" It shows {relative}." if relative else ""
        return f"This is where the failure becomes visible to users.{timing}{strength}"
    if layer.role == AGGRAVATING:
        timing = f" It starts {relative}." if relative else ""
        return (
            f"`{layer.component}` is not where the incident starts, but it adds to the load "
            f"and latency of the degraded layers.{timing}{strength}"
        )
    return f"Seen in the window but not on the causal path.{strength}"


def standing(layer: Layer) -> str:
    parts: list[str] = []
    if layer.candidate is not None:
        parts.append(f"anomaly score {layer.candidate.score:.2f}")
        parts.extend(layer.candidate.reasons)
    return "; ".join(parts)


def wrap_up(layer: Layer, *, window: Window) -> str:
    first, last = layer.first_ts, layer.last_ts
    count = len(layer.evidence)
    noun = "piece" if count == 1 else "pieces"
    text = f"{count} {noun} of evidence"
    if first is not None and last is not None:
        if last - first >= 1:
            text += f" between {clock(first, window=window)} and {clock(last, window=window)}"
        else:
            text += f" at {clock(first, window=window)}"
    if layer.events:
        text += "; events: " + "; ".join(limited(e.event for e in layer.events))
    if layer.affected:
        text += "; degraded instances: " + ", ".join(a.instance for a in layer.affected)
    return text + "."


def chain_label(layer: Layer) -> str:
    if layer.affected:
        return f"{layer.component} ({', '.join(a.instance for a in layer.affected)})"
    return layer.component


def root_label(result: DiagnosisResult) -> str:
    cause = result.root_cause
    if cause.component == CLIENT_CAUSE:
        ips = ", ".join(c.ip for c in result.clients)
        return f"abusive client traffic ({ips})" if ips else "abusive client traffic"
    label = cause.component
    if cause.instance:
        label += f" ({cause.instance})"
    return label


def feed_target(chain: Chain) -> str | None:
    """Where aggravating factors and clients push: the degraded layer, else the symptom."""
    for layer in chain.layers:
        if layer.role == PROPAGATION and layer.affected:
            return chain_label(layer)
    for layer in chain.layers:
        if layer.role == PROPAGATION:
            return chain_label(layer)
    return chain_label(chain.layers[-1]) if chain.layers else None
