"""Reading `template.yaml`, so the local stack creates exactly what a deployment would."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO_PARAMETERS = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": "local"}


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsic functions (`!Ref`, `!GetAtt`, `!Sub`...)."""


def _intrinsic(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag in ("Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap"):
    _Loader.add_constructor(f"!{_tag}", _intrinsic("Ref" if _tag == "Ref" else f"Fn::{_tag}"))


@dataclass(frozen=True)
class Template:
    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Template:
        return cls(path, yaml.load(path.read_text(), Loader=_Loader))  # noqa: S506 - SafeLoader subclass

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id → properties of every resource of one type."""
        return {
            name: resource.get("Properties", {})
            for name, resource in self.body["Resources"].items()
            if resource["Type"] == kind
        }

    def parameters(self) -> dict[str, str]:
        """Each template parameter's default, as `sam deploy` uses it when not overridden."""
        return {
            name: str(spec["Default"]) for name, spec in self.body.get("Parameters", {}).items() if "Default" in spec
        }

    def function_environment(self) -> dict[str, Any]:
        """The variables every function gets, and those a function sets for itself (one process runs them all)."""
        found = dict(self.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
        for props in self.resources("AWS::Serverless::Function").values():
            found.update(props.get("Environment", {}).get("Variables", {}))
        return found


def resolve(value: Any, refs: Mapping[str, str], attributes: Mapping[tuple[str, str], str]) -> Any:
    """A template value with `Ref`, `Fn::GetAtt` and `Fn::Sub` replaced by local names."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return refs.get(argument, PSEUDO_PARAMETERS.get(argument, argument))
        if name == "Fn::GetAtt":
            return attributes[(argument[0], argument[1])]
        if name == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, refs, attributes)), argument)
    if isinstance(value, dict):
        return {key: resolve(item, refs, attributes) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, refs, attributes) for item in value]
    return value
