"""MySQL / MariaDB through PyMySQL: processlist, InnoDB transactions, kills, EXPLAIN.

Every statement here is a constant; the only values sent are bound parameters
(PyMySQL escapes them) and, for ``KILL``, integers taken from a ``KillCommand``
whose constructor refuses anything but a positive ``int``.  Multi-statements are
never enabled.  ``explain`` runs only statements ``validated_select`` accepts.

Credentials come from a Kubernetes Secret (keys ``host``, ``port``, ``user``,
``password``, ``database``); ``settings_from_secret_data`` turns the Secret's
base64 ``data`` into ``MySQLConnectionSettings``.  The Secret itself is read by
the Kubernetes adapter.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import threading
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import pymysql
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from diagnosis_operator.models.actions import (
    ExplainRow,
    InnodbTransaction,
    KillCommand,
    KillMode,
    ProcessRow,
    ServerFlavor,
    ServerInfo,
)
from diagnosis_operator.models.sqltext import NotASelect, validated_select

# pymysql error numbers
_ER_NO_SUCH_THREAD = 1094
_ER_NO_SUCH_QUERY = 1957  # MariaDB: KILL QUERY ID for a query that has ended
_CR_CONNECTION_LOST = frozenset({2006, 2013})  # server gone away; lost during query


def _connection_lost(error: BaseException) -> bool:
    """The connection dropped (killed, timed out, server restarted): worth one new login."""
    code = error.args[0] if error.args else None
    return isinstance(error, pymysql.err.OperationalError) and code in _CR_CONNECTION_LOST


class MySQLError(RuntimeError):
    """A MySQL call failed: says which server, what was asked and what came back."""

    def __init__(self, *, server: str, asked: str, error: BaseException) -> None:
        self.server = server
        self.asked = asked
        self.error = error
        super().__init__(f"mysql {server}: {asked} failed: {error}")


class MySQLConnectionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 3306
    user: Annotated[str, Field(min_length=1, max_length=80)]
    password: SecretStr
    database: str | None = None
    connect_timeout: Annotated[float, Field(gt=0)] = 5.0
    read_timeout: Annotated[float, Field(gt=0)] = 30.0

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


SECRET_KEYS = ("host", "port", "user", "password", "database")


def settings_from_secret_data(
    *, data: Mapping[str, str], source: str = "MySQL Secret"
) -> MySQLConnectionSettings:
    """``MySQLConnectionSettings`` from a Secret's ``data`` (base64 values).  Pure.

    ``host``, ``user`` and ``password`` are required; ``port`` and ``database``
    optional; other keys are ignored.  Errors name ``source`` (e.g. ``Secret ns/name``)
    and the key, never
    the value.
    """
    decoded: dict[str, str] = {}
    for key in SECRET_KEYS:
        raw = data.get(key)
        if raw is None:
            continue
        try:
            decoded[key] = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ValueError(f"{source}: key {key!r} is not base64-encoded UTF-8") from None
    missing = [key for key in ("host", "user", "password") if key not in decoded]
    if missing:
        raise ValueError(f"{source}: missing key(s) {', '.join(missing)}")
    fields: dict[str, Any] = {
        "host": decoded["host"].strip(),
        "user": decoded["user"],
        "password": decoded["password"],
    }
    if "port" in decoded:
        port = decoded["port"].strip()
        if not port.isdigit():
            raise ValueError(f"{source}: key 'port' is not a number")
        fields["port"] = int(port)
    if decoded.get("database"):
        fields["database"] = decoded["database"]
    try:
        return MySQLConnectionSettings(**fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"{source}: {problems}") from None


_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_server_version(version: str, comment: str = "") -> ServerInfo:
    """Flavour and version from ``SELECT VERSION(), @@version_comment``.  Pure."""
    # MariaDB < 11 may report "5.5.5-10.x.y-MariaDB" (a prefix kept for old replication clients).
    text = version[len("5.5.5-") :] if version.startswith("5.5.5-") else version
    match = _VERSION.search(text)
    numbers = (
        (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)
    )
    flavor = (
        ServerFlavor.MARIADB if "mariadb" in f"{version} {comment}".lower() else ServerFlavor.MYSQL
    )
    return ServerInfo(flavor=flavor, version=numbers, version_string=version)


_PROCESSLIST_MARIADB = (
    "SELECT ID, USER, HOST, DB, COMMAND, TIME_MS / 1000, STATE, INFO, QUERY_ID "
    "FROM information_schema.PROCESSLIST"
)
_PROCESSLIST_MYSQL = (
    "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, NULL "
    "FROM information_schema.PROCESSLIST"
)
_TRANSACTIONS = (
    "SELECT trx_mysql_thread_id, trx_rows_modified, trx_state, UNIX_TIMESTAMP(trx_started) "
    "FROM information_schema.INNODB_TRX"
)
# Who waits for whom: (waiting thread, blocking thread).  MariaDB and MySQL 5.7:
# information_schema.INNODB_LOCK_WAITS (https://mariadb.com/kb/en/information-schema-innodb_lock_waits-table/);
# MySQL 8: performance_schema.data_lock_waits
# (https://dev.mysql.com/doc/refman/8.0/en/performance-schema-data-lock-waits-table.html).
_LOCK_WAITS_INFORMATION_SCHEMA = (
    "SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id "
    "FROM information_schema.INNODB_LOCK_WAITS w "
    "JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id "
    "JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id"
)
_LOCK_WAITS_PERFORMANCE_SCHEMA = (
    "SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id "
    "FROM performance_schema.data_lock_waits w "
    "JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID "
    "JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID "
    "WHERE w.ENGINE = 'INNODB'"
)
_KILL = {
    (KillMode.QUERY, False): "KILL QUERY %s",
    (KillMode.QUERY, True): "KILL QUERY ID %s",
    (KillMode.CONNECTION, False): "KILL CONNECTION %s",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _row(values: tuple[Any, ...]) -> ProcessRow:
    thread_id, user, host, db, command, time, state, info, query_id = values
    return ProcessRow(
        id=int(thread_id),
        user=_text(user) or "",
        host=_text(host) or "",
        db=_text(db),
        command=_text(command) or "",
        time=float(time or 0),
        state=_text(state) or None,
        info=_text(info),
        query_id=int(query_id) if query_id else None,
    )


Connector = Callable[..., Any]


class PyMySQLAdmin:
    """``MySQLAdmin`` over one PyMySQL connection (reconnected when it drops).

    One connection on purpose: ``connection_id()`` is then the id the kill
    selection must spare.  Calls are serialised with a lock.
    """

    def __init__(
        self,
        *,
        settings: MySQLConnectionSettings,
        name: str = "mysql",
        connector: Connector = pymysql.connect,
    ) -> None:
        self.settings = settings
        self.name = name
        self._connector = connector
        self._connection: Any = None
        self._lock = threading.Lock()
        self._server: ServerInfo | None = None

    # -- plumbing

    def _connect(self) -> Any:
        if self._connection is not None and self._connection.open:
            return self._connection
        self._connection = self._connector(
            host=self.settings.host,
            port=self.settings.port,
            user=self.settings.user,
            password=self.settings.password.get_secret_value(),
            database=self.settings.database,
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            write_timeout=self.settings.read_timeout,
            autocommit=True,
            charset="utf8mb4",
        )
        return self._connection

    def _query(self, sql: str, params: tuple[Any, ...] = (), *, asked: str = "") -> list[Any]:
        """One statement; a connection lost since the last call is re-opened once.

        The retry sends the statement again on a new login, so a password that
        changed meanwhile shows as the server's own "Access denied" answer; every
        statement asked here is read-only or a KILL (sent twice, the second finds
        the thread gone).
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    connection = self._connect()
                    with connection.cursor() as cursor:
                        cursor.execute(sql, params or None)
                        return list(cursor.fetchall())
                except pymysql.MySQLError as error:
                    if isinstance(error, pymysql.err.OperationalError | pymysql.err.InterfaceError):
                        self._drop()
                    if attempt == 1 and _connection_lost(error):
                        continue
                    raise MySQLError(
                        server=f"{self.name} ({self.settings.describe()})",
                        asked=asked or sql,
                        error=error,
                    ) from error
            raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(pymysql.MySQLError):
                self._connection.close()
        self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- MySQLAdmin

    def server_info(self) -> ServerInfo:
        if self._server is None:
            ((version, comment),) = self._query(
                "SELECT VERSION(), @@version_comment", asked="server version"
            )
            self._server = parse_server_version(_text(version) or "", _text(comment) or "")
        return self._server

    def connection_id(self) -> int:
        ((value,),) = self._query("SELECT CONNECTION_ID()", asked="own connection id")
        return int(value)

    def processlist(self) -> tuple[ProcessRow, ...]:
        sql = (
            _PROCESSLIST_MARIADB
            if self.server_info().flavor is ServerFlavor.MARIADB
            else _PROCESSLIST_MYSQL
        )
        return tuple(_row(tuple(values)) for values in self._query(sql, asked="processlist"))

    def thread(self, thread_id: int) -> ProcessRow | None:
        sql = (
            _PROCESSLIST_MARIADB
            if self.server_info().flavor is ServerFlavor.MARIADB
            else _PROCESSLIST_MYSQL
        )
        rows = self._query(sql + " WHERE ID = %s", (int(thread_id),), asked=f"thread {thread_id}")
        return _row(tuple(rows[0])) if rows else None

    def transactions(self) -> tuple[InnodbTransaction, ...]:
        rows = self._query(_TRANSACTIONS, asked="InnoDB transactions")
        waits = self._lock_waits() if any(_text(row[2]) == "LOCK WAIT" for row in rows) else {}
        return tuple(
            InnodbTransaction(
                thread_id=int(thread_id),
                rows_modified=int(rows_modified or 0),
                state=_text(state) or "",
                started=float(started) if started is not None else None,
                waiting_for=tuple(sorted(waits.get(int(thread_id), ()))),
            )
            for thread_id, rows_modified, state, started in rows
            if thread_id
        )

    def _lock_waits(self) -> dict[int, set[int]]:
        """Waiting thread -> the threads holding what it waits for; {} when unreadable.

        Best effort: without the privilege (or the table) the selection falls
        back on the transactions' states and start times.
        """
        server = self.server_info()
        sql = (
            _LOCK_WAITS_PERFORMANCE_SCHEMA
            if server.flavor is ServerFlavor.MYSQL and server.version >= (8, 0, 0)
            else _LOCK_WAITS_INFORMATION_SCHEMA
        )
        try:
            rows = self._query(sql, asked="InnoDB lock waits")
        except MySQLError:
            return {}
        waits: dict[int, set[int]] = {}
        for waiting, blocking in rows:
            if waiting and blocking:
                waits.setdefault(int(waiting), set()).add(int(blocking))
        return waits

    def kill(self, *, command: KillCommand, expected: ProcessRow) -> str:
        """Kill one thread if it still runs what was selected: "killed" | "gone" | "changed"."""
        current = self.thread(command.thread_id)
        if current is None:
            return "gone"
        if not expected.still_running_in(current):
            return "changed"
        if command.query_id is not None and current.query_id != command.query_id:
            return "changed"
        by_query_id = command.query_id is not None
        template = _KILL[(command.mode, by_query_id)]
        target = command.query_id if command.query_id is not None else command.thread_id
        if type(target) is not int:  # KillCommand guarantees it; belt and braces for SQL
            raise TypeError(f"kill target must be int, got {type(target).__name__}")
        try:
            self._query(template, (target,), asked=template.replace("%s", str(target)))
        except MySQLError as error:
            code = error.error.args[0] if error.error.args else None
            if code in (_ER_NO_SUCH_THREAD, _ER_NO_SUCH_QUERY):
                return "gone"
            raise
        return "killed"

    def explain(self, *, statement: str) -> tuple[ExplainRow, ...]:
        """``EXPLAIN`` one SELECT; ``ValueError`` (``NotASelect``) for anything else."""
        try:
            select = validated_select(statement)
        except NotASelect as error:
            raise NotASelect(f"explain refused: {error}") from None
        with self._lock:
            try:
                connection = self._connect()
                with connection.cursor(pymysql.cursors.DictCursor) as cursor:
                    # The statement is the query text under analysis, checked above as one
                    # plain SELECT; EXPLAIN plans it without running it.
                    cursor.execute("EXPLAIN " + select)
                    rows = list(cursor.fetchall())
            except pymysql.MySQLError as error:
                raise MySQLError(
                    server=self.name, asked=f"EXPLAIN {select[:200]}", error=error
                ) from error
        return tuple(
            ExplainRow(
                table=_text(row.get("table")),
                access_type=_text(row.get("type")),
                possible_keys=_text(row.get("possible_keys")),
                key=_text(row.get("key")),
                rows=int(row["rows"]) if row.get("rows") is not None else None,
                extra=_text(row.get("Extra")),
            )
            for row in rows
        )
