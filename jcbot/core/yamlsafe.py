"""A strict YAML loader: only `true`/`false` are booleans, duplicate keys are errors.

PyYAML's SafeLoader follows YAML 1.1, where `no`, `on`, `off` and `yes` become
booleans (so a country code `NO` would turn into False). Rules files and timelines
are read as YAML 1.2 core: those words stay strings, and a validation error says so.
"""
from __future__ import annotations

import re
from typing import Any

import yaml


class YamlError(ValueError):
    """A document that is not well-formed YAML; the message carries line and column."""


class _StrictLoader(yaml.SafeLoader):
    pass


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# Timestamps stay strings: instants are parsed (and their offset required) by the models.
for first, resolvers in list(_StrictLoader.yaml_implicit_resolvers.items()):
    _StrictLoader.yaml_implicit_resolvers[first] = [
        (tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"
    ]


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise YamlError(f"line {mark.line + 1}: duplicate key {key!r}")
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_yaml(text: str) -> Any:
    """Parse YAML text strictly; raise YamlError with the line on malformed input."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"{where}{problem}") from None
