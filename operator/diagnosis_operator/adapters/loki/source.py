"""``ports.LogSource`` over a live Loki: counts are LogQL metric queries, lines bounded samples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.adapters import logql
from diagnosis_operator.adapters.loki.client import LokiClient
from diagnosis_operator.models.signals import Labels, LogCount, LogStream, Window


class LokiLogSource:
    """``ports.LogSource`` over a live Loki: counts are LogQL metric queries."""

    backend = "loki"  # the operator's metrics label for this source

    def __init__(self, client: LokiClient) -> None:
        self.client = client

    def sample_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        line_filter: str | None,
        limit: int,
    ) -> list[LogStream]:
        query = logql.log_query(selector=selector, line_filter=line_filter)
        return self.client.log_range(query, window=window, limit=limit)

    def count_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        by: Sequence[str],
    ) -> list[LogCount]:
        query = logql.count_query(selector=selector, line_filter=line_filter, by=by, step=step)
        return _with_group_labels(self.client.metric_range(query, window=window, step=step), by)

    def count_extracted(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        pattern: str,
        by: Sequence[str],
        top: int,
    ) -> list[LogCount]:
        query = logql.extract_count_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )
        return _with_group_labels(self.client.metric_range(query, window=window, step=step), by)

    def describe(
        self,
        *,
        selector: Mapping[str, str],
        line_filter: str | None,
        pattern: str | None = None,
        by: Sequence[str] = (),
        step: float | None = None,
        top: int | None = None,
    ) -> str:
        return logql.describe_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )


def _with_group_labels(series: list[LogCount], by: Sequence[str]) -> list[LogCount]:
    # Loki drops empty labels from a result (`sum by (ip)` over lines without an
    # ip gives `{}`); the LogSource contract gives every grouping label a value,
    # empty when the line had none.
    return sorted(
        (
            LogCount(
                labels=Labels({name: series_item.labels.get(name, "") for name in by}),
                timestamps=series_item.timestamps,
                values=series_item.values,
            )
            for series_item in series
        ),
        key=lambda item: sorted(item.labels.items()),
    )
