"""A fake ``entrypoints.cli.kubectl.client.Cluster``: objects in memory, a fixed user."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


class FakeCluster:
    def __init__(self, *, namespace: str = "team-a", user: str = "alice@example.org") -> None:
        self.current_namespace = namespace
        self.user = user
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        self.diagnoses: dict[tuple[str, str], dict[str, Any]] = {}
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}
        self._generated = 0

    def namespace(self) -> str:
        return self.current_namespace

    def whoami(self) -> str:
        return self.user

    def list_policies(self, *, namespace: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(p) for (ns, _), p in self.policies.items() if ns == namespace]

    def create_diagnosis(self, *, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        created = copy.deepcopy(dict(body))
        meta = created["metadata"]
        if "name" not in meta:
            self._generated += 1
            meta["name"] = f"{meta.pop('generateName')}x{self._generated:04d}"
        meta.setdefault("creationTimestamp", "2031-03-04T05:00:00Z")
        self.diagnoses[(namespace, meta["name"])] = created
        return copy.deepcopy(created)

    def list_diagnoses(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(d)
            for (ns, _), d in self.diagnoses.items()
            if namespace is None or ns == namespace
        ]

    def get_diagnosis(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.diagnoses.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def annotate_diagnosis(
        self, *, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> None:
        meta = self.diagnoses[(namespace, name)]["metadata"]
        meta.setdefault("annotations", {}).update(annotations)

    def get_configmap(self, *, namespace: str, name: str) -> dict[str, str] | None:
        found = self.configmaps.get((namespace, name))
        return dict(found) if found is not None else None

    def merge_configmap(self, *, namespace: str, name: str, data: Mapping[str, str]) -> None:
        self.configmaps.setdefault((namespace, name), {}).update(data)
