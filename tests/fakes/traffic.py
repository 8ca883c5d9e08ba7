"""In-memory ``ObjectStore`` and nginx config sink for the traffic backends."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeObjectStore:
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    puts: int = 0
    deletes: int = 0

    def get(
        self, *, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        found = self.objects.get((api_version, kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def put(self, *, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        key = (obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        self.objects[key] = copy.deepcopy(dict(obj))
        self.puts += 1

    def delete(self, *, api_version: str, kind: str, namespace: str, name: str) -> None:
        if self.objects.pop((api_version, kind, namespace, name), None) is not None:
            self.deletes += 1

    def kinds(self) -> list[str]:
        return sorted(kind for _, kind, _, _ in self.objects)


@dataclass
class FakeNginxSink:
    files: dict[str, str] = field(default_factory=dict)
    writes: int = 0

    def read(self) -> Mapping[str, str]:
        return dict(self.files)

    def write(self, *, files: Mapping[str, str]) -> None:
        self.files.update(files)
        self.writes += 1
