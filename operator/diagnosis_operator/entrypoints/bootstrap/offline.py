"""The offline sources: an incident bundle answering the same ports as Prometheus and Loki."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.models.bundle import Bundle, LoadProgress


def open_bundle(
    path: str | Path,
    *,
    progress: Callable[[LoadProgress], None] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> tuple[Bundle, BundleSource]:
    """Load (and so validate) a bundle; its source serves ``SeriesSource`` and ``LogSource``.

    ``meanwhile`` runs while a forked child may still parse ``metrics.om``
    (``load_bundle``).  Raises ``adapters.bundle.BundleError`` naming the file
    and line of a problem.
    """
    bundle = load_bundle(path, progress=progress, meanwhile=meanwhile)
    return bundle, BundleSource(bundle)
