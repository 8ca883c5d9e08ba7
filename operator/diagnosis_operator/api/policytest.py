"""A policy test file (``diagnosis-operator policy test FILE``), in the spirit of
``promtool test rules``: one policy, incident bundles, and what each should give.

    policy: ../policy-reference.yaml      # relative to the test file
    tests:
      - bundle: reference                 # a folder (relative to the test file), or the
                                          # name of a generator of examples/incidents
        expect:
          rootCause: mysql                # a component, or "none"
          failureMode: lock contention
          run: []                         # actions every guard lets run
          dryRun: [drain-pod]             # recorded only (not enabled, shadow mode)
          awaitingApproval: []
          refused:
            - {action: kill-mysql-queries, reason: not-configured}

An action is ``drain-pod`` or ``{action: drain-pod, target: 192.0.2.17:8080}``;
a refusal gives the ``reason`` code (``never-listed``, ``not-configured``, ...)
and optionally ``message``, a part of the guard's words.  A key left out is
not compared; a list given is compared as a whole (order aside).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from diagnosis_operator.models.findings import ActionType

MAX_TESTS = 64


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class ExpectedAction(_Model):
    action: ActionType
    target: str | None = Field(default=None, min_length=1, description="Any target if unset.")

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, value: Any) -> Any:
        return {"action": value} if isinstance(value, str) else value

    def describe(self) -> str:
        return self.action.value + (f" {self.target}" if self.target else "")


class ExpectedRefusal(ExpectedAction):
    reason: str = Field(
        min_length=1, description="The refusal's code, e.g. never-listed or not-configured."
    )
    message: str | None = Field(
        default=None, min_length=1, description="A part of the refusal's words."
    )

    def describe(self) -> str:
        return f"{super().describe()} ({self.reason})"


class Expectation(_Model):
    root_cause: str | None = Field(default=None, min_length=1)
    failure_mode: str | None = Field(default=None, min_length=1)
    run: list[ExpectedAction] | None = None
    dry_run: list[ExpectedAction] | None = None
    awaiting_approval: list[ExpectedAction] | None = None
    refused: list[ExpectedRefusal] | None = None

    @model_validator(mode="after")
    def _something(self) -> Expectation:
        if not self.model_fields_set:
            raise ValueError(
                "expect needs at least one of rootCause, failureMode, run, "
                "dryRun, awaitingApproval, refused"
            )
        return self


class PolicyTestCase(_Model):
    bundle: str = Field(min_length=1, description="A bundle folder, or a generator's name.")
    name: str | None = Field(default=None, min_length=1)
    expect: Expectation

    @property
    def title(self) -> str:
        return self.name or self.bundle


class PolicyTestFile(_Model):
    policy: str = Field(min_length=1, description="The policy manifest, relative to this file.")
    tests: list[PolicyTestCase] = Field(min_length=1, max_length=MAX_TESTS)
