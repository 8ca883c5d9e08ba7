"""What the EXPLAIN of one slow statement shows, and what to do about it.  Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis_operator.core.diagnosis.enrich.index_advice import (
    FilterColumn,
    TableRef,
    filter_columns,
    index_columns,
    table_references,
)
from diagnosis_operator.core.diagnosis.enrich.model import (
    DEFAULT_THRESHOLDS,
    Enrichment,
    EnrichThresholds,
)
from diagnosis_operator.models.actions import ExplainRow
from diagnosis_operator.models.findings import (
    Evidence,
    EvidenceSource,
    Recommendation,
    Urgency,
)
from diagnosis_operator.models.observations import (
    ExplainObservation,
)
from diagnosis_operator.models.sqltext import (
    fingerprint,
)


def _row_text(row: ExplainRow) -> str:
    def shown(value: object) -> str:
        return "NULL" if value is None else str(value)

    return (
        f"table={shown(row.table)} type={shown(row.access_type)} "
        f"possible_keys={shown(row.possible_keys)} key={shown(row.key)} "
        f"rows={shown(row.rows)} Extra={shown(row.extra)}"
    )


def _is_full_scan(row: ExplainRow) -> bool:
    return (row.access_type or "").upper() == "ALL" and not row.key


def _table_for(row: ExplainRow, tables: Sequence[TableRef]) -> TableRef | None:
    if not row.table:
        return None
    wanted = row.table.lower()
    for ref in tables:
        if ref.alias.lower() == wanted:
            return ref
    for ref in tables:
        if ref.bare.lower() == wanted:
            return ref
    return None


def _mentions_index_on(text: str, table: TableRef) -> bool:
    names = "|".join(re.escape(n) for n in {table.name, table.bare})
    return re.search(rf"\bindex(?:es)? on `?(?:{names})`?\s*\(", text, re.I) is not None


_Read = tuple[ExplainRow, TableRef | None]


def _split_rows(
    observation: ExplainObservation, *, tables: Sequence[TableRef], thresholds: EnrichThresholds
) -> tuple[list[_Read], list[_Read]]:
    """The plan's rows that scan a large table in full, and those read through an index."""
    scanned: list[_Read] = []
    indexed: list[_Read] = []
    for row in observation.rows:
        ref = _table_for(row, tables)
        if _is_full_scan(row):
            if row.rows is None or row.rows >= thresholds.min_scan_rows:
                scanned.append((row, ref))
        elif row.key:
            indexed.append((row, ref))
    return scanned, indexed


@dataclass(frozen=True, slots=True)
class _Statement:
    """The statement a plan is about, as the advice names it."""

    component: str
    shape: str
    tables: tuple[TableRef, ...]
    filters: tuple[FilterColumn, ...]


def _scan_advice(
    row: ExplainRow, ref: TableRef | None, *, statement: _Statement
) -> tuple[str, str | None]:
    """What one full scan shows, and the advice for it (None: nothing to advise)."""
    name = ref.name if ref else (row.table or "?")
    size = f"~{row.rows} rows" if row.rows is not None else "all rows"
    tables = statement.tables
    columns = index_columns(table=ref, tables=tables, filters=statement.filters) if ref else ()
    shape = statement.shape
    if columns and not row.possible_keys:
        return (
            f"full scan of {name} ({size}, no usable index) filtering on {', '.join(columns)}",
            f"Add an index on {name}({', '.join(columns)}): EXPLAIN shows `{shape}` "
            f"reading {size} of {name} in a full scan.",
        )
    if columns:
        return (
            f"full scan of {name} ({size}) although {row.possible_keys} could serve",
            f"EXPLAIN of `{shape}` ignores the index(es) {row.possible_keys} on "
            f"{name} and scans {size}: check that the compared values have the "
            f"column's type (a number compared with a text column skips the index), "
            f"the filter's selectivity, and the table statistics (ANALYZE TABLE {name}).",
        )
    advice = (
        f"`{shape}` reads {size} of {name} with no filter an index could "
        "serve: bound it (LIMIT or keyset pagination) or precompute its result."
    )
    return (
        f"full scan of {name} ({size}) with no filter an index could serve",
        advice if len(tables) == 1 else None,
    )


def _indexed_part(row: ExplainRow, ref: TableRef | None) -> str:
    name = ref.name if ref else (row.table or "?")
    size = f", ~{row.rows} rows" if row.rows is not None else ""
    return f"{name} read through index {row.key} (type={row.access_type}{size})"


def _superseded(
    earlier: Sequence[Recommendation],
    *,
    component: str,
    answered: set[TableRef],
    indexed: Sequence[_Read],
) -> list[Recommendation]:
    """Earlier index advice on a table this plan answers or reads through an index."""
    contradicted = {ref for _, ref in indexed if ref is not None} - answered
    return [
        advice
        for advice in earlier
        if advice.component == component
        and any(_mentions_index_on(advice.text, ref) for ref in answered | contradicted)
    ]


def explain_findings(
    *,
    observation: ExplainObservation,
    earlier: Sequence[Recommendation] = (),
    thresholds: EnrichThresholds = DEFAULT_THRESHOLDS,
) -> Enrichment:
    """Pure: what the EXPLAIN of one slow statement shows, and what to do about it.

    ``earlier`` are the recommendations already made (from the logs); those that
    advise an index on a table this plan reads through an index, or on a table it
    now gives a sharper advice for, come back as ``superseded``.
    """
    statement = observation.statement
    shape = fingerprint(observation.original or statement)
    rewritten = " (the rows it changes, read as a SELECT)" if observation.original else ""
    about = _Statement(
        component=observation.component,
        shape=shape,
        tables=table_references(statement),
        filters=filter_columns(statement),
    )
    scanned, indexed = _split_rows(observation, tables=about.tables, thresholds=thresholds)
    recommendations: list[Recommendation] = []
    answered = {ref for _, ref in scanned if ref is not None}
    parts: list[str] = []
    for row, ref in scanned:
        part, advice = _scan_advice(row, ref, statement=about)
        parts.append(part)
        if advice is not None:
            recommendations.append(
                Recommendation(
                    component=observation.component,
                    urgency=Urgency.SHORT_TERM,
                    text=advice,
                    because=f"EXPLAIN: {_row_text(row)}",
                )
            )
    parts += [_indexed_part(row, ref) for row, ref in indexed]
    if not parts:
        parts.append("no full scan of a large table")
    evidence = Evidence(
        component=observation.component,
        source=EvidenceSource.MYSQL,
        query=f"EXPLAIN {fingerprint(statement)}",
        summary=f"EXPLAIN of `{shape}`{rewritten}: " + "; ".join(parts),
        value=float(sum(row.rows or 0 for row, _ in scanned)) if scanned else None,
        line="\n".join(_row_text(row) for row in observation.rows)[:2000] or None,
    )
    superseded = _superseded(
        earlier, component=observation.component, answered=answered, indexed=indexed
    )
    return Enrichment(
        evidence=(evidence,),
        recommendations=tuple(recommendations),
        superseded=tuple(superseded),
    )
