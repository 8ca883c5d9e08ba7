"""Incident bundles: load a bundle folder and answer signal queries from it.

``load_bundle`` reads and validates a bundle (errors are ``BundleError`` with
``file:line:``); ``BundleSource`` answers the ``SeriesSource`` and ``LogSource``
ports from the loaded bundle, the way Prometheus and Loki would.
"""

from diagnosis_operator.adapters.bundle.errors import BundleError
from diagnosis_operator.adapters.bundle.loader import load_bundle
from diagnosis_operator.adapters.bundle.source import BundleSource

__all__ = ["BundleError", "BundleSource", "load_bundle"]
