"""Evidence and recommendations from asking MySQL and Redis directly.  Pure.

The engine diagnoses from metrics and logs.  Where a database or cache can be
asked directly, what it answers can confirm, sharpen or contradict what the
logs suggested:

* ``EXPLAIN`` of the slow statements the diagnosis found shows which tables are
  read in full (``type=ALL`` with no usable key) and which columns the statement
  filters them on: that is an index to add, named by table and columns.  A plan
  that already uses an index contradicts a log-based "add an index" advice,
  which is then dropped.
* The Redis slow log shows whether one key or one command dominates the slow
  operations (a hot key; whole-value reads such as ``HGETALL`` or ``KEYS`` on
  big values); ``INFO`` shows rejected connections and memory pressure;
  ``LATENCY LATEST`` shows latency spikes and their kind.

Every recommendation names what was observed (table, columns, key, figures) and
quotes it in ``because``; nothing here knows any particular schema or key.
This module only reads text and numbers: it builds no SQL and runs nothing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from diagnosis_operator.core.diagnosis.logs import LogCategory, categorize
from diagnosis_operator.models.actions import ExplainRow
from diagnosis_operator.models.findings import (
    DiagnosisResult,
    Evidence,
    EvidenceSource,
    Recommendation,
    Urgency,
)
from diagnosis_operator.models.observations import (
    ADMIN_COMMANDS,
    ExplainObservation,
    KeySize,
    RedisObservation,
    SlowlogEntry,
)
from diagnosis_operator.models.signals import Window, isoformat_z
from diagnosis_operator.models.sqltext import (
    NotASelect,
    fingerprint,
    strip_comments,
    validated_select,
)


@dataclass(frozen=True, slots=True)
class EnrichThresholds:
    """When an observation is worth a recommendation."""

    min_scan_rows: int = 1000  # a full scan of fewer rows is not worth an index
    hot_key_share: float = 0.5  # one key (or command) in at least this share of slow commands
    hot_key_min_entries: int = 3
    big_value_elements: int = 1000  # a hash/set/list/zset this long is "big"
    big_value_bytes: int = 1 << 20
    slow_command_seconds: float = 0.01  # a whole-value read this slow is a problem by itself
    near_limit: float = 0.9  # clients / maxclients, used_memory / maxmemory
    latency_seconds: float = 0.1  # LATENCY LATEST spikes worth quoting
    window_margin_seconds: float = 1.0  # slow-log times are whole seconds


DEFAULT_THRESHOLDS = EnrichThresholds()


@dataclass(frozen=True, slots=True)
class SlowStatement:
    """A slow statement found in the diagnosis' evidence, and whether it may be explained."""

    component: str
    statement: str  # as found in the evidence
    because: str  # the evidence summary it came from
    refused: str | None = None  # why it is not explained; None when it may be
    # What EXPLAIN is asked for: the statement itself, or for a single-table UPDATE or
    # DELETE the SELECT of the rows it touches (same table, same WHERE).
    explain: str = ""
    rewritten: bool = False  # True when ``explain`` is the SELECT of an UPDATE's / DELETE's rows

    @property
    def explainable(self) -> bool:
        return self.refused is None


@dataclass(frozen=True, slots=True)
class Enrichment:
    evidence: tuple[Evidence, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    superseded: tuple[Recommendation, ...] = ()  # earlier advice the observations answer
    notes: tuple[str, ...] = ()  # become warnings of the result


# --------------------------------------------------------------------------- statements

_JSON_STATEMENT_KEYS = ("query", "statement", "sql", "stmt", "sql_text", "query_text")
_STATEMENT_START = re.compile(r"\b(SELECT|WITH|INSERT|UPDATE|DELETE|REPLACE|CALL)\b", re.I)
_LOG_PREAMBLE = re.compile(r"^\s*(#|SET\s+timestamp\s*=|use\s+[`\w$]+\s*;\s*$)", re.I)
_SUMMARY_STATEMENT = re.compile(r"^slow query `(.+)`(?=[,;]|$)", re.S)


def statement_in_entry(line: str) -> str | None:
    """The SQL statement a slow-query log entry carries, whole (not cut at ``;``).  Pure.

    JSON entries give it in a field (``query``, ``statement``, ``sql``...); text
    entries (the MySQL/MariaDB slow log, or one-line application logs) give it after
    their ``#`` header lines, ``SET timestamp=`` and ``use db;``.  The text is kept
    whole so that a second statement hidden behind the first is seen and refused.
    """
    text = line.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            lowered = {str(key).lower(): value for key, value in parsed.items()}
            for key in _JSON_STATEMENT_KEYS:
                value = lowered.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
            return None
    body = "\n".join(part for part in text.split("\n") if not _LOG_PREAMBLE.match(part))
    match = _STATEMENT_START.search(body)
    return body[match.start() :].strip() if match else None


def statement_of(evidence: Evidence) -> str | None:
    """The slow statement an evidence item quotes, if it is about a slow query.  Pure."""
    if evidence.line and categorize(evidence.line) is LogCategory.SLOW_QUERY:
        found = statement_in_entry(evidence.line)
        if found:
            return found
    match = _SUMMARY_STATEMENT.match(evidence.summary)
    return match.group(1).strip() if match else None


def slow_statements(
    *, result: DiagnosisResult, component: str | None = None, limit: int = 5
) -> tuple[SlowStatement, ...]:
    """Pure: distinct slow statements (by fingerprint) in the evidence, at most ``limit``.

    Each says whether it may be explained: only a single plain SELECT may
    (``models.sqltext.validated_select``); anything else is kept with the reason
    it was refused, so the refusal can be reported.
    """
    found: list[SlowStatement] = []
    seen: set[str] = set()
    for item in result.evidence:
        if component is not None and item.component != component:
            continue
        statement = statement_of(item)
        if statement is None:
            continue
        shape = fingerprint(statement)
        if shape in seen:
            continue
        seen.add(shape)
        explain, refused, rewritten = _explainable_form(statement)
        found.append(
            SlowStatement(
                component=item.component,
                statement=statement,
                because=item.summary,
                refused=refused,
                explain=explain,
                rewritten=rewritten,
            )
        )
        if len(found) >= limit:
            break
    return tuple(found)


def _explainable_form(statement: str) -> tuple[str, str | None, bool]:
    """The SELECT to explain for a statement, why not, and whether it was rewritten."""
    try:
        return validated_select(statement), None, False
    except NotASelect as error:
        refused = str(error)
    rows_select = select_of_rows(statement)
    if rows_select is None:
        return "", refused, False
    try:
        return validated_select(rows_select), None, True
    except NotASelect as error:
        return "", str(error), False


_QUOTED_NAME = r"(?:`[^`]+`|[A-Za-z_$][\w$]*)"
_DML_HEAD = re.compile(
    rf"^\s*(UPDATE|DELETE)\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\s+)*(?:FROM\s+)?"
    rf"({_QUOTED_NAME}(?:\.{_QUOTED_NAME})?)"
    r"(?:\s+(?:AS\s+)?(?!(?:SET|WHERE|USING|JOIN|PARTITION|FROM)\b)([A-Za-z_$][\w$]*))?\s+",
    re.I,
)
_MASK_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`", re.S)


def select_of_rows(statement: str) -> str | None:
    """Pure: ``SELECT * FROM t WHERE ...`` for a single-table ``UPDATE``/``DELETE``, else None.

    The SELECT reads the rows the statement changes, so its EXPLAIN shows how the
    statement finds them.  Only text of the statement is reused (table, alias,
    WHERE and what follows it); the result must still pass ``validated_select``,
    so a second statement behind the first is refused as before.
    """
    text = strip_comments(statement).strip()
    head = _DML_HEAD.match(text)
    if head is None:
        return None
    verb, table, alias = head.group(1).upper(), head.group(2), head.group(3)
    masked = _MASK_LITERAL.sub(lambda m: "x" * len(m.group(0)), text)
    rest = masked[head.end() :]
    if verb == "UPDATE" and not re.match(r"SET\b", rest, re.I):
        return None  # several tables, or a form this reading does not know
    if verb == "DELETE" and not re.match(r"WHERE\b", rest, re.I):
        return None
    depth = 0
    for index, char in enumerate(rest):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif (
            depth == 0
            and re.match(r"WHERE\b", rest[index:], re.I)
            and (index == 0 or not (rest[index - 1].isalnum() or rest[index - 1] in "_$"))
        ):
            where = text[head.end() + index :]
            named = f" AS {alias}" if alias else ""
            # Text of the statement under analysis, rearranged; never run, only explained
            # after validated_select (one plain SELECT) accepts it.
            return f"SELECT * FROM {table}{named} {where}"  # noqa: S608
    return None


# --------------------------------------------------------------------------- EXPLAIN


@dataclass(frozen=True, slots=True)
class TableRef:
    name: str  # as written, possibly schema-qualified
    alias: str

    @property
    def bare(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class FilterColumn:
    qualifier: str | None
    column: str
    equality: bool
    indexable: bool = True  # False for LIKE '%...' (a leading wildcard uses no index)


_SQL_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"", re.S)
_IDENT = r"[A-Za-z_$][\w$]*"
_TABLE_NAME = rf"{_IDENT}(?:\.{_IDENT})?"
_NOT_ALIAS = frozenset(
    {
        "on", "using", "where", "join", "inner", "left", "right", "outer", "cross", "natural",
        "straight_join", "group", "order", "limit", "having", "union", "for", "lock", "window",
        "use", "ignore", "force", "partition", "into", "procedure", "as", "set", "values",
    }
)  # fmt: skip
_ALIAS = rf"(?:\s+(?:AS\s+)?(?!(?:{'|'.join(sorted(_NOT_ALIAS))})\b)({_IDENT}))?"
_FROM_TABLE = re.compile(rf"\b(?:FROM|JOIN|STRAIGHT_JOIN)\s+({_TABLE_NAME}){_ALIAS}", re.I)
_NEXT_TABLE = re.compile(rf"\s*,\s*({_TABLE_NAME}){_ALIAS}", re.I)
_COLUMN = rf"(?:({_IDENT})\.)?({_IDENT})"
_LEFT_PREDICATE = re.compile(
    rf"(?<![\w$]){_COLUMN}\s*(<=>|<>|!=|<=|>=|=|<|>|\bNOT\s+IN\b|\bIN\b|\bNOT\s+LIKE\b|\bLIKE\b"
    rf"|\bBETWEEN\b|\bIS\b)\s*(\?%)?",
    re.I,
)
_RIGHT_PREDICATE = re.compile(rf"(<=>|<>|!=|<=|>=|=|<|>)\s*{_COLUMN}\b(?!\s*[.(])", re.I)
_EQUALITY_OPS = frozenset({"=", "<=>", "in", "is"})
_SQL_WORDS = frozenset(
    {
        "and", "or", "not", "null", "true", "false", "select", "where", "in", "like", "between",
        "is", "from", "on", "using", "exists", "case", "when", "then", "else", "end", "any",
        "all", "some", "interval", "binary", "distinct", "as", "xor", "div", "mod", "unknown",
    }
)  # fmt: skip


def _analysable(statement: str) -> str:
    """Comments removed, literals as ``?`` (``?%`` for a leading wildcard), no backticks."""

    def literal(match: re.Match[str]) -> str:
        return "?%" if match.group(0)[1:2] in ("%", "_") else "?"

    return _SQL_STRING.sub(literal, strip_comments(statement)).replace("`", "")


def table_references(statement: str) -> tuple[TableRef, ...]:
    """Pure: the tables a statement reads (FROM, JOIN and comma lists), with their aliases."""
    text = _analysable(statement)
    refs: list[TableRef] = []
    for match in _FROM_TABLE.finditer(text):
        _add_ref(refs, match.group(1), match.group(2))
        position = match.end()
        while True:
            more = _NEXT_TABLE.match(text, position)
            if more is None:
                break
            _add_ref(refs, more.group(1), more.group(2))
            position = more.end()
    return tuple(refs)


def _add_ref(refs: list[TableRef], name: str, alias: str | None) -> None:
    if name.lower() in _SQL_WORDS or name.lower() == "dual":
        return
    if alias is None or alias.lower() in _NOT_ALIAS or alias.lower() in _SQL_WORDS:
        alias = name.rsplit(".", 1)[-1]
    ref = TableRef(name=name, alias=alias)
    if ref not in refs:
        refs.append(ref)


def filter_columns(statement: str) -> tuple[FilterColumn, ...]:
    """Pure: the columns compared in a statement's WHERE / ON / HAVING clauses.

    Both sides of a comparison count (``a.id = b.a_id`` names both columns); a
    column wrapped in a function (``LOWER(email) = ?``) does not, since an
    index on it would not be used.
    """
    text = _analysable(statement)
    start = re.search(r"\bFROM\b", text, re.I)
    if start is None:
        return ()
    text = text[start.end() :]
    found: list[FilterColumn] = []
    for match in _LEFT_PREDICATE.finditer(text):
        qualifier, column, operator, wildcard = match.groups()
        if column.lower() in _SQL_WORDS or column[0].isdigit():
            continue
        operator = " ".join(operator.lower().split())
        found.append(
            FilterColumn(
                qualifier=qualifier,
                column=column,
                equality=operator in _EQUALITY_OPS,
                indexable=not (operator.endswith("like") and wildcard),
            )
        )
    for match in _RIGHT_PREDICATE.finditer(text):
        operator, qualifier, column = match.groups()
        if column.lower() in _SQL_WORDS:
            continue
        found.append(
            FilterColumn(qualifier=qualifier, column=column, equality=operator in _EQUALITY_OPS)
        )
    return tuple(found)


def index_columns(
    *, table: TableRef, tables: Sequence[TableRef], filters: Sequence[FilterColumn], limit: int = 3
) -> tuple[str, ...]:
    """Pure: the columns an index on ``table`` should cover: equality ones first, then ranges."""
    names = {table.alias.lower(), table.bare.lower(), table.name.lower()}

    def belongs(item: FilterColumn) -> bool:
        if item.qualifier is not None:
            return item.qualifier.lower() in names
        return len(tables) == 1

    mine = [f for f in filters if belongs(f) and f.indexable]
    ordered: list[str] = []
    for item in sorted(mine, key=lambda f: not f.equality):
        if item.column.lower() not in (c.lower() for c in ordered):
            ordered.append(item.column)
    return tuple(ordered[:limit])


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
    tables = table_references(statement)
    filters = filter_columns(statement)
    scanned: list[tuple[ExplainRow, TableRef | None]] = []
    indexed: list[tuple[ExplainRow, TableRef | None]] = []
    for row in observation.rows:
        ref = _table_for(row, tables)
        if _is_full_scan(row):
            if row.rows is None or row.rows >= thresholds.min_scan_rows:
                scanned.append((row, ref))
        elif row.key:
            indexed.append((row, ref))

    recommendations: list[Recommendation] = []
    answered: set[TableRef] = set()
    parts: list[str] = []
    for row, ref in scanned:
        name = ref.name if ref else (row.table or "?")
        size = f"~{row.rows} rows" if row.rows is not None else "all rows"
        columns = index_columns(table=ref, tables=tables, filters=filters) if ref else ()
        because = f"EXPLAIN: {_row_text(row)}"
        if ref is not None:
            answered.add(ref)
        if columns and not row.possible_keys:
            parts.append(
                f"full scan of {name} ({size}, no usable index) filtering on {', '.join(columns)}"
            )
            recommendations.append(
                Recommendation(
                    component=observation.component,
                    urgency=Urgency.SHORT_TERM,
                    text=f"Add an index on {name}({', '.join(columns)}): EXPLAIN shows `{shape}` "
                    f"reading {size} of {name} in a full scan.",
                    because=because,
                )
            )
        elif columns:
            parts.append(f"full scan of {name} ({size}) although {row.possible_keys} could serve")
            recommendations.append(
                Recommendation(
                    component=observation.component,
                    urgency=Urgency.SHORT_TERM,
                    text=f"EXPLAIN of `{shape}` ignores the index(es) {row.possible_keys} on "
                    f"{name} and scans {size}: check that the compared values have the "
                    f"column's type (a number compared with a text column skips the index), "
                    f"the filter's selectivity, and the table statistics (ANALYZE TABLE {name}).",
                    because=because,
                )
            )
        else:
            parts.append(f"full scan of {name} ({size}) with no filter an index could serve")
            if len(tables) == 1:
                recommendations.append(
                    Recommendation(
                        component=observation.component,
                        urgency=Urgency.SHORT_TERM,
                        text=f"`{shape}` reads {size} of {name} with no filter an index could "
                        "serve: bound it (LIMIT or keyset pagination) or precompute its result.",
                        because=because,
                    )
                )
    for row, ref in indexed:
        name = ref.name if ref else (row.table or "?")
        size = f", ~{row.rows} rows" if row.rows is not None else ""
        parts.append(f"{name} read through index {row.key} (type={row.access_type}{size})")
    if not parts:
        parts.append("no full scan of a large table")

    superseded: list[Recommendation] = []
    contradicted = {ref for _, ref in indexed if ref is not None} - answered
    for advice in earlier:
        if advice.component != observation.component:
            continue
        if any(_mentions_index_on(advice.text, ref) for ref in answered | contradicted):
            superseded.append(advice)

    evidence = Evidence(
        component=observation.component,
        source=EvidenceSource.MYSQL,
        query=f"EXPLAIN {fingerprint(statement)}",
        summary=f"EXPLAIN of `{shape}`{rewritten}: " + "; ".join(parts),
        value=float(sum(row.rows or 0 for row, _ in scanned)) if scanned else None,
        line="\n".join(_row_text(row) for row in observation.rows)[:2000] or None,
    )
    return Enrichment(
        evidence=(evidence,),
        recommendations=tuple(recommendations),
        superseded=tuple(superseded),
    )


# --------------------------------------------------------------------------- Redis

# Reads that return a whole value; on a big value each call moves and blocks a lot.
_WHOLE_VALUE_READS = {
    "HGETALL": "HSCAN, or HMGET of the fields needed",
    "HKEYS": "HSCAN",
    "HVALS": "HSCAN",
    "SMEMBERS": "SSCAN, or SISMEMBER for membership tests",
    "SUNION": "SSCAN over the sets, or a precomputed union",
    "SINTER": "SSCAN, or a precomputed intersection",
    "SDIFF": "SSCAN, or a precomputed difference",
    "LRANGE": "bounded ranges (pages)",
    "ZRANGE": "bounded ranges or ZSCAN",
    "ZREVRANGE": "bounded ranges or ZSCAN",
    "ZRANGEBYSCORE": "LIMIT offset count",
    "ZREVRANGEBYSCORE": "LIMIT offset count",
    "XRANGE": "COUNT",
    "SORT": "a precomputed sorted set",
}
_RANGE_COMMANDS = frozenset({"LRANGE", "ZRANGE", "ZREVRANGE"})


def in_window(
    entries: Iterable[SlowlogEntry], *, window: Window, margin: float
) -> tuple[SlowlogEntry, ...]:
    """Pure: the entries that started inside the window (times are whole seconds)."""
    return tuple(e for e in entries if window.start - margin <= e.started <= window.end + margin)


def workload(entries: Iterable[SlowlogEntry]) -> tuple[SlowlogEntry, ...]:
    """Pure: the entries that read or write data (not INFO, CONFIG, SLOWLOG...)."""
    return tuple(e for e in entries if e.command and e.command not in ADMIN_COMMANDS)


def keys_worth_sizing(
    *, entries: Sequence[SlowlogEntry], window: Window, limit: int = 10
) -> tuple[str, ...]:
    """Pure: the keys of the window's slow commands, most frequent first."""
    counts: Counter[str] = Counter()
    for entry in workload(in_window(entries, window=window, margin=1.0)):
        for key in entry.keys:
            counts[key] += 1
    return tuple(key for key, _ in counts.most_common(limit))


def _whole_value(entry: SlowlogEntry) -> bool:
    if entry.command not in _WHOLE_VALUE_READS:
        return False
    if entry.command in _RANGE_COMMANDS:
        return len(entry.args) >= 4 and entry.args[3].strip() == "-1"
    return True


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _size_text(size: KeySize | None) -> str:
    if size is None:
        return ""
    parts = []
    if size.length is not None:
        unit = "bytes" if size.value_type == "string" else "elements"
        parts.append(f"{size.value_type}, {size.length} {unit}")
    else:
        parts.append(size.value_type)
    if size.memory_bytes is not None:
        parts.append(f"{size.memory_bytes} bytes in memory")
    return " (" + ", ".join(parts) + ")"


def _is_big(size: KeySize | None, thresholds: EnrichThresholds) -> bool:
    if size is None:
        return False
    if size.value_type != "string" and (size.length or 0) >= thresholds.big_value_elements:
        return True
    return (size.memory_bytes or 0) >= thresholds.big_value_bytes


def _clock(ts: float) -> str:
    return isoformat_z(ts)[11:19]


def redis_findings(
    *,
    observation: RedisObservation,
    window: Window,
    thresholds: EnrichThresholds = DEFAULT_THRESHOLDS,
) -> Enrichment:
    """Pure: hot keys, whole-value reads, connection and memory limits, latency spikes."""
    advice: list[Recommendation] = []
    name = observation.component
    found = _Found(component=name, server=observation.server)
    sizes = {size.key: size for size in observation.key_sizes}

    slowlog_query = f"SLOWLOG GET {observation.slowlog_limit}"
    recent = in_window(observation.slowlog, window=window, margin=thresholds.window_margin_seconds)
    commands = workload(recent)
    if commands:
        by_command = Counter(e.command for e in commands)
        slowest = max(commands, key=lambda e: e.duration)
        threshold = (
            f" (slowlog-log-slower-than {_ms(observation.slowlog_threshold)})"
            if observation.slowlog_threshold is not None
            else ""
        )
        capped = (
            "; the slow log may hold more (limit reached)"
            if len(observation.slowlog) >= observation.slowlog_limit > 0
            else ""
        )
        found.add(
            f"slow log: {len(commands)} slow command(s) in the window{threshold}: "
            + ", ".join(f"{c} {n}x" for c, n in by_command.most_common(5))
            + f"; slowest {slowest.command} {_ms(slowest.duration)} at {_clock(slowest.started)}"
            + capped,
            slowlog_query,
            value=float(len(commands)),
            ts=min(e.started for e in commands),
        )
        advice.extend(_hot_key(commands, sizes, thresholds, found, slowlog_query, name))
        advice.extend(_whole_value_reads(commands, sizes, thresholds, found, slowlog_query, name))
        advice.extend(_keys_scans(commands, observation, thresholds, found, slowlog_query, name))
    elif workload(observation.slowlog):
        found.add(
            f"slow log: {len(workload(observation.slowlog))} slow command(s), none in the window",
            slowlog_query,
        )

    info = observation.info
    if info is not None:
        advice.extend(_connections(observation=observation, found=found, thresholds=thresholds))
        advice.extend(_memory(observation=observation, found=found, thresholds=thresholds))

    for event in observation.latency:
        at = event.latest_at
        if event.worst < thresholds.latency_seconds:
            continue
        if not window.start - thresholds.window_margin_seconds <= at <= window.end + 1:
            continue
        because = found.add(
            f"latency monitor: {event.event} spiked to {_ms(event.latest)} at {_clock(at)} "
            f"(worst {_ms(event.worst)})",
            "LATENCY LATEST",
            value=event.worst,
            ts=at,
        )
        if "fork" in event.event.lower():
            advice.append(
                Recommendation(
                    component=name,
                    urgency=Urgency.LONG_TERM,
                    text=f"Persistence forks stall {name}: schedule snapshots and AOF rewrites "
                    "away from peak traffic, keep the data set smaller, or turn persistence off "
                    "on a pure cache.",
                    because=because,
                )
            )
    return Enrichment(evidence=tuple(found.evidence), recommendations=tuple(advice))


@dataclass
class _Found:
    """Evidence collected for one component; ``add`` returns the summary for ``because``."""

    component: str
    server: str
    evidence: list[Evidence] = field(default_factory=list)

    def add(
        self, summary: str, query: str, *, value: float | None = None, ts: float | None = None
    ) -> str:
        self.evidence.append(
            Evidence(
                component=self.component,
                source=EvidenceSource.REDIS,
                query=query,
                summary=summary,
                value=value,
                ts=ts,
                instance=self.server,
            )
        )
        return summary


def _hot_key(
    commands: Sequence[SlowlogEntry],
    sizes: dict[str, KeySize],
    thresholds: EnrichThresholds,
    found: _Found,
    query: str,
    name: str,
) -> list[Recommendation]:
    by_key: Counter[str] = Counter(e.key for e in commands if e.key is not None)
    if not by_key:
        return []
    key, count = by_key.most_common(1)[0]
    if count < thresholds.hot_key_min_entries or count < thresholds.hot_key_share * len(commands):
        return []
    on_key = [e for e in commands if e.key == key]
    kinds = Counter(e.command for e in on_key)
    callers = Counter(e.client for e in on_key if e.client)
    total = sum(e.duration for e in on_key)
    summary = (
        f"hot key {key!r}{_size_text(sizes.get(key))}: {count} of {len(commands)} slow commands "
        f"({', '.join(f'{c} {n}x' for c, n in kinds.most_common(3))}), {_ms(total)} in total"
    )
    if callers:
        summary += f", from {len(callers)} client(s): " + ", ".join(
            f"{c} ({n}x)" for c, n in callers.most_common(3)
        )
    because = found.add(summary, query, value=float(count), ts=min(e.started for e in on_key))
    return [
        Recommendation(
            component=name,
            urgency=Urgency.SHORT_TERM,
            text=f"Relieve hot key {key!r} on {name}: cache it in the callers for a short time, "
            "or split it into several smaller keys (or shard it) so its load spreads.",
            because=because,
        )
    ]


def _whole_value_reads(
    commands: Sequence[SlowlogEntry],
    sizes: dict[str, KeySize],
    thresholds: EnrichThresholds,
    found: _Found,
    query: str,
    name: str,
) -> list[Recommendation]:
    grouped: dict[tuple[str, str], list[SlowlogEntry]] = {}
    for entry in commands:
        if entry.key is not None and _whole_value(entry):
            grouped.setdefault((entry.command, entry.key), []).append(entry)
    out: list[Recommendation] = []
    for (command, key), entries in sorted(grouped.items(), key=lambda item: -len(item[1])):
        size = sizes.get(key)
        slowest = max(e.duration for e in entries)
        if not (_is_big(size, thresholds) or slowest >= thresholds.slow_command_seconds):
            continue
        because = found.add(
            f"{command} on {key!r}{_size_text(size)}: {len(entries)} slow call(s), "
            f"slowest {_ms(slowest)}",
            query,
            value=float(len(entries)),
            ts=min(e.started for e in entries),
        )
        out.append(
            Recommendation(
                component=name,
                urgency=Urgency.SHORT_TERM,
                text=f"Split the {command} reads of {key!r} on {name}: use "
                f"{_WHOLE_VALUE_READS[command]} instead of reading the whole value, and break "
                "the value into smaller keys.",
                because=because,
            )
        )
        if len(out) >= 3:
            break
    return out


def _keys_scans(
    commands: Sequence[SlowlogEntry],
    observation: RedisObservation,
    thresholds: EnrichThresholds,
    found: _Found,
    query: str,
    name: str,
) -> list[Recommendation]:
    scans = [e for e in commands if e.command == "KEYS"]
    if not scans:
        return []
    slowest = max(e.duration for e in scans)
    keyspace = observation.info.total_keys if observation.info is not None else 0
    if slowest < thresholds.slow_command_seconds and keyspace < thresholds.big_value_elements:
        return []
    patterns = Counter(e.args[1] for e in scans if len(e.args) > 1)
    because = found.add(
        f"KEYS over a keyspace of {keyspace} keys: {len(scans)} call(s), slowest {_ms(slowest)}"
        + (
            f"; patterns: {', '.join(repr(p) for p, _ in patterns.most_common(3))}"
            if patterns
            else ""
        ),
        query,
        value=float(len(scans)),
        ts=min(e.started for e in scans),
    )
    return [
        Recommendation(
            component=name,
            urgency=Urgency.SHORT_TERM,
            text=f"Replace KEYS with SCAN (MATCH, COUNT) on {name}: KEYS walks the whole keyspace "
            "and blocks every other client while it does.",
            because=because,
        )
    ]


def _connections(
    *, observation: RedisObservation, found: _Found, thresholds: EnrichThresholds
) -> list[Recommendation]:
    info = observation.info
    if info is None:
        return []
    facts: list[str] = []
    if info.rejected_connections:
        since = f" in {info.uptime_seconds} s of uptime" if info.uptime_seconds else " since start"
        facts.append(f"{info.rejected_connections} connection(s) rejected{since}")
    if info.maxclients and info.connected_clients is not None:
        ratio = info.connected_clients / info.maxclients
        if ratio >= thresholds.near_limit:
            facts.append(
                f"{info.connected_clients} of maxclients {info.maxclients} connected ({ratio:.0%})"
            )
    if not facts:
        return []
    because = found.add(
        "connections: " + "; ".join(facts),
        "INFO clients, stats",
        value=float(info.rejected_connections or info.connected_clients or 0),
    )
    limit = f"maxclients {info.maxclients}" if info.maxclients else "maxclients"
    return [
        Recommendation(
            component=observation.component,
            urgency=Urgency.SHORT_TERM,
            text=f"Keep connections to {observation.component} under {limit}: cap the callers' "
            "pool sizes (their sum across all replicas must stay below the limit), close idle "
            "clients (the timeout setting), and raise maxclients only if the host's file limits "
            "allow.",
            because=because,
        )
    ]


def _memory(
    *, observation: RedisObservation, found: _Found, thresholds: EnrichThresholds
) -> list[Recommendation]:
    info = observation.info
    if info is None or not info.maxmemory or info.used_memory is None:
        return []
    ratio = info.used_memory / info.maxmemory
    evicted = info.evicted_keys or 0
    policy = info.maxmemory_policy or "unknown"
    if ratio < thresholds.near_limit and not evicted:
        return []
    because = found.add(
        f"memory: used {info.used_memory} of maxmemory {info.maxmemory} bytes ({ratio:.0%}), "
        f"{evicted} key(s) evicted since start, policy {policy}",
        "INFO memory, stats",
        value=ratio,
    )
    if ratio < thresholds.near_limit or not (evicted or policy == "noeviction"):
        return []
    consequence = (
        "writes fail with OOM errors under noeviction"
        if policy == "noeviction"
        else f"{evicted} keys were evicted"
    )
    return [
        Recommendation(
            component=observation.component,
            urgency=Urgency.SHORT_TERM,
            text=f"Size {observation.component}'s memory: it runs at {ratio:.0%} of maxmemory and "
            f"{consequence}; raise maxmemory (and the container's memory limit with it), set "
            "TTLs on cache keys, or shrink large values.",
            because=because,
        )
    ]


# --------------------------------------------------------------------------- together


def enrich(
    *,
    result: DiagnosisResult,
    explains: Sequence[ExplainObservation] = (),
    redis: Sequence[RedisObservation] = (),
    refused: Sequence[SlowStatement] = (),
    notes: Sequence[str] = (),
    thresholds: EnrichThresholds = DEFAULT_THRESHOLDS,
) -> DiagnosisResult:
    """Pure: the result with the observations' evidence, advice and notes added.

    Recommendations the observations answer (``Enrichment.superseded``) are
    replaced; refused statements are reported as warnings.
    """
    parts: list[Enrichment] = []
    for observation in explains:
        parts.append(
            explain_findings(
                observation=observation, earlier=result.recommendations, thresholds=thresholds
            )
        )
    for cache in redis:
        parts.append(redis_findings(observation=cache, window=result.window, thresholds=thresholds))
    warnings = list(result.warnings)
    for statement in refused:
        warnings.append(
            f"enrich: slow statement from {statement.component} not explained "
            f"({statement.refused}): {fingerprint(statement.statement)[:160]}"
        )
    warnings.extend(notes)
    for part in parts:
        warnings.extend(part.notes)
    return merge(result=result, parts=parts, warnings=tuple(warnings))


_URGENCY_ORDER = {Urgency.IMMEDIATE: 0, Urgency.SHORT_TERM: 1, Urgency.LONG_TERM: 2}


def merge(
    *, result: DiagnosisResult, parts: Sequence[Enrichment], warnings: tuple[str, ...]
) -> DiagnosisResult:
    """Pure: evidence appended, recommendations merged (superseded dropped, duplicates once)."""
    superseded = {advice for part in parts for advice in part.superseded}
    advice: list[Recommendation] = []
    seen: set[str] = set()
    candidates = [r for r in result.recommendations if r not in superseded]
    candidates += [r for part in parts for r in part.recommendations]
    for item in candidates:
        if item.text in seen:
            continue
        seen.add(item.text)
        advice.append(item)
    advice.sort(key=lambda r: _URGENCY_ORDER.get(r.urgency, 3))
    evidence = result.evidence + tuple(e for part in parts for e in part.evidence)
    return replace(
        result,
        evidence=evidence,
        recommendations=tuple(advice),
        warnings=warnings,
    )
