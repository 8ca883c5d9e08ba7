"""Service topology: components, their kinds, selectors and dependencies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from diagnosis_operator.models.signals import Labels


class ComponentKind(StrEnum):
    PROXY = "proxy"
    APP = "app"
    MYSQL = "mysql"
    REDIS = "redis"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    kind: ComponentKind
    # Equality label matchers selecting this component's series and streams.
    selector: Labels
    depends_on: tuple[str, ...] = ()


class TopologyError(ValueError):
    """A topology that cannot be used: unknown dependency, cycle, duplicate name."""


@dataclass(frozen=True)
class Topology:
    components: tuple[Component, ...]

    def __post_init__(self) -> None:
        names = [component.name for component in self.components]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise TopologyError(f"component {name!r} is declared twice")
            seen.add(name)
        for component in self.components:
            for dependency in component.depends_on:
                if dependency not in seen:
                    raise TopologyError(
                        f"component {component.name!r} dependsOn unknown component {dependency!r}"
                    )
        cycle = _find_cycle({c.name: c.depends_on for c in self.components})
        if cycle:
            raise TopologyError("dependsOn has a cycle: " + " -> ".join(cycle))

    def __iter__(self) -> Iterator[Component]:
        return iter(self.components)

    def get(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(component.name for component in self.components)

    def dependents_of(self, name: str) -> tuple[str, ...]:
        """Components that call ``name`` directly."""
        return tuple(c.name for c in self.components if name in c.depends_on)

    def downstream_of(self, name: str) -> frozenset[str]:
        """Everything ``name`` depends on, transitively."""
        graph: Mapping[str, tuple[str, ...]] = {c.name: c.depends_on for c in self.components}
        found: set[str] = set()
        stack = list(graph.get(name, ()))
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(graph.get(current, ()))
        return frozenset(found)

    def depth(self, name: str) -> int:
        """Longest dependsOn path from ``name`` down to a leaf (leaves are 0)."""
        component = self.get(name)
        if not component.depends_on:
            return 0
        return 1 + max(self.depth(dependency) for dependency in component.depends_on)


def _find_cycle(graph: Mapping[str, tuple[str, ...]]) -> list[str]:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str]:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return []
        visiting.append(node)
        for neighbour in graph.get(node, ()):
            cycle = visit(neighbour)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return []

    for start in graph:
        cycle = visit(start)
        if cycle:
            return cycle
    return []
