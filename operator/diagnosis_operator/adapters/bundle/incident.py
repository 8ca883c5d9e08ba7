"""``incident.yaml``: read and validate it, and map a key path back to its line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from diagnosis_operator.adapters.bundle.errors import BundleError
from diagnosis_operator.models.bundle import BUNDLE_FORMAT, IncidentSpec
from diagnosis_operator.models.topology import Topology, TopologyError


def read_incident(path: Path) -> tuple[IncidentSpec, Topology, YamlLines]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        at = raw.count(b"\n", 0, error.start) + 1
        raise BundleError(str(path), at, f"not UTF-8 text: {error.reason}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise BundleError(str(path), line, f"invalid YAML: {problem}") from None
    lines = YamlLines(root)
    if not isinstance(data, dict):
        raise BundleError(str(path), 1, "must be a YAML mapping (format, name, window, topology)")
    found_format = data.get("format")
    if found_format != BUNDLE_FORMAT:
        what = "missing 'format'" if found_format is None else f"unknown format {found_format!r}"
        raise BundleError(
            str(path), lines.line_of(("format",)), f"{what}: this build reads {BUNDLE_FORMAT}"
        )
    try:
        spec = IncidentSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if location == ("window",) and message.startswith("window.end"):
            location = ("window", "end")
        field_path = ".".join(str(part) for part in location) or "(document)"
        raise BundleError(str(path), lines.line_of(location), f"{field_path}: {message}") from None
    try:
        topology = spec.topology.to_topology()
    except TopologyError as error:
        raise BundleError(
            str(path), lines.line_of(_topology_error_location(spec, error)), f"topology: {error}"
        ) from None
    return spec, topology, lines


def _topology_error_location(spec: IncidentSpec, error: TopologyError) -> tuple[Any, ...]:
    """Where in incident.yaml a topology error points: the offending dependsOn when known."""
    names = [component.name for component in spec.topology.components]
    seen: set[str] = set()
    for index, component in enumerate(spec.topology.components):
        if component.name in seen:
            return ("topology", "components", index, "name")
        seen.add(component.name)
    for index, component in enumerate(spec.topology.components):
        for position, dependency in enumerate(component.depends_on):
            if dependency not in names:
                return ("topology", "components", index, "dependsOn", position)
    cycle = str(error).partition("cycle: ")[2].split(" -> ")
    if cycle and cycle[0] in names:
        return ("topology", "components", names.index(cycle[0]), "dependsOn")
    return ("topology",)


class YamlLines:
    """Maps a path of keys / indexes in the YAML document to a 1-based line number."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line_of(self, location: Sequence[Any]) -> int:
        node = self._root
        if node is None:
            return 1
        best = node.start_mark.line + 1
        for part in location:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        best = key.start_mark.line + 1
                        child = value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                best = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return best
