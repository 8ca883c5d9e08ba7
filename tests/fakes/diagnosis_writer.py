"""A fake ``DiagnosisWriter`` / ``PolicyReader``: objects kept in memory, like the apiserver.

Create-if-absent has the apiserver's semantics: a second create of the same
namespace/name does not replace the first (``False`` = AlreadyExists).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any


class FakeDiagnosisWriter:
    def __init__(
        self, *, policies: Mapping[tuple[str, str], Mapping[str, Any]] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.attempts: list[tuple[str, str]] = []
        self.policies = dict(policies or {})
        self.fail_with: Exception | None = None

    def create_if_absent(self, *, namespace: str, body: Mapping[str, Any]) -> bool:
        name = str(body["metadata"]["name"])
        with self._lock:
            self.attempts.append((namespace, name))
            if self.fail_with is not None:
                raise self.fail_with
            if (namespace, name) in self.objects:
                return False
            self.objects[(namespace, name)] = copy.deepcopy(dict(body))
            return True

    def get_policy(self, *, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.policies.get((namespace, name))

    def created(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.objects.values())
