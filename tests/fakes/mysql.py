"""An in-memory ``MySQLAdmin``: a processlist the test edits, and a record of kills."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from diagnosis_operator.models.actions import (
    ExplainRow,
    InnodbTransaction,
    KillCommand,
    KillMode,
    ProcessRow,
    ServerFlavor,
    ServerInfo,
)
from diagnosis_operator.models.sqltext import validated_select


@dataclass
class FakeMySQLAdmin:
    """Kills behave like the server's: KILL QUERY clears the statement (the connection
    sleeps on), KILL CONNECTION removes the row, an unknown id is "gone"."""

    server: ServerInfo = field(
        default_factory=lambda: ServerInfo(ServerFlavor.MARIADB, (10, 11, 6), "10.11.6-MariaDB")
    )
    own_id: int = 1
    rows: dict[int, ProcessRow] = field(default_factory=dict)
    trx: list[InnodbTransaction] = field(default_factory=list)
    kills: list[KillCommand] = field(default_factory=list)
    explains: list[str] = field(default_factory=list)
    explain_rows: tuple[ExplainRow, ...] = ()

    def add(self, row: ProcessRow) -> ProcessRow:
        self.rows[row.id] = row
        return row

    def server_info(self) -> ServerInfo:
        return self.server

    def connection_id(self) -> int:
        return self.own_id

    def processlist(self) -> tuple[ProcessRow, ...]:
        return tuple(self.rows.values())

    def transactions(self) -> tuple[InnodbTransaction, ...]:
        return tuple(self.trx)

    def kill(self, *, command: KillCommand, expected: ProcessRow) -> str:
        current = self.rows.get(command.thread_id)
        if current is None:
            return "gone"
        if not expected.still_running_in(current):
            return "changed"
        self.kills.append(command)
        if command.mode is KillMode.CONNECTION:
            del self.rows[command.thread_id]
        else:
            self.rows[command.thread_id] = replace(
                current, command="Sleep", info=None, state=None, time=0, query_id=None
            )
        return "killed"

    def explain(self, *, statement: str) -> tuple[ExplainRow, ...]:
        self.explains.append(validated_select(statement))
        return self.explain_rows
