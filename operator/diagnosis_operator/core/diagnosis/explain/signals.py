"""Key signals: the anomalous series worth plotting, with their siblings.  Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal
from diagnosis_operator.core.diagnosis.stats import FloatArray
from diagnosis_operator.models.findings import KeySignal

MAX_KEY_SIGNALS = 40


def key_signals(
    *,
    detections: Sequence[Detection],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    affected: Sequence[AffectedFinding],
    limit: int = MAX_KEY_SIGNALS,
) -> list[KeySignal]:
    """Pure: the anomalous signals worth plotting (affected instances first) and their siblings."""
    chosen: list[Signal] = []
    anomalous: set[int] = set()
    ordered = [d for f in affected for d in f.detections[:2]] + list(detections)
    seen_keys: set[tuple[object, ...]] = set()
    for detection in ordered:
        signal = detection.signal
        anomalous.add(id(signal))
        key = signal.peer_key
        if key in seen_keys:
            continue
        seen_keys.add(key)
        peers = [s for s in signals.get(signal.component, ()) if s.peer_key == key]
        for peer in [signal, *(p for p in peers if p is not signal)][:6]:
            if len(chosen) >= limit:
                break
            chosen.append(peer)
        if len(chosen) >= limit:
            break
    out = []
    for signal in chosen:
        finite = np.isfinite(signal.values)
        out.append(
            KeySignal(
                component=signal.component,
                instance=signal.instance,
                signal=signal.name,
                query=signal.query,
                timestamps=tuple(float(t) for t in timestamps[finite]),
                values=tuple(round(float(v), 6) for v in signal.values[finite]),
                anomalous=id(signal) in anomalous,
            )
        )
    return out
