"""JSON Schema, fast: the subset our shipped schemas use, compiled to plain predicates.

The schemas under */schemas/ stay the only definition of each file format. Hot paths (every
checkpoint journal record, every archive line, a million mappings at load) check with the
compiled predicates; only when one fails does jsonschema run, to say what is wrong and where.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

JSONDoc = dict[str, Any]


Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "title", "description", "$comment", "default", "examples"}
)
_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "const",
        "enum",
        "minimum",
        "minLength",
        "anyOf",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "pattern",
        "oneOf",
        "maxLength",
    }
)


def is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


_STRING_ONLY = frozenset({"minLength", "maxLength", "pattern"})
# JSON types whose _TYPES test is isinstance of one Python type
_ISINSTANCE: dict[str, type] = {
    "string": str,
    "boolean": bool,
    "null": type(None),
    "object": dict,
    "array": list,
}


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(check(v) for check in checks)


class SchemaCompiler:
    """Turns the subset of JSON Schema our schema uses into plain predicates.

    jsonschema needs ~30 us per journal record or archive line and minutes for a million
    mappings; these predicates need about a microsecond. They are compiled from the shipped
    schema, so it stays the only definition; an unsupported keyword is an error rather than
    ignored, and tests check that both agree. jsonschema itself explains a failure.
    """

    def __init__(self, root: JSONDoc) -> None:
        self._defs: JSONDoc = root.get("$defs", {})
        self._compiled: dict[str, Check] = {}

    def definition(self, name: str) -> Check:
        if name not in self._compiled:
            self._compiled[name] = lambda v: False  # our schema has no recursion; never used
            self._compiled[name] = self.compile(self._defs[name])
        return self._compiled[name]

    def compile(self, schema: JSONDoc) -> Check:
        unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise ValueError(f"schema keyword(s) {sorted(unknown)} not supported by the checker")
        checks: list[Check] = []
        if "$ref" in schema:
            ref: str = schema["$ref"]
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"only local $defs references are supported, not {ref}")
            checks.append(self.definition(ref.removeprefix("#/$defs/")))
        if (
            schema.get("type") == "string"
            and "minLength" in schema
            and not ({"maxLength", "pattern"} & schema.keys())
        ):
            # the shape of every id: fused, because it runs once per mapping
            least: int = schema["minLength"]
            checks.append(lambda v: isinstance(v, str) and len(v) >= least)
        elif schema.get("type") == "string" and schema.keys() & _STRING_ONLY == {"pattern"}:
            # the shape of every timestamp: fused too
            search = re.compile(schema["pattern"]).search
            checks.append(lambda v: isinstance(v, str) and search(v) is not None)
        else:
            checks.extend(self._type_keywords(schema))
        checks.extend(self._value_keywords(schema))
        if "anyOf" in schema:
            options = [self.compile(option) for option in schema["anyOf"]]
            checks.append(lambda v: any(option(v) for option in options))
        if "oneOf" in schema:
            exactly = [self.compile(option) for option in schema["oneOf"]]
            checks.append(lambda v: sum(1 for option in exactly if option(v)) == 1)
        if {"required", "properties", "additionalProperties"} & schema.keys():
            checks.append(self._object(schema))
        if "items" in schema:
            item = self.compile(schema["items"])
            checks.append(lambda v: not isinstance(v, list) or all(map(item, v)))
        return _all_of(checks)

    def _type_keywords(self, schema: JSONDoc) -> list[Check]:
        checks: list[Check] = []
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            types = [_TYPES[name] for name in names]
            checks.append(types[0] if len(types) == 1 else lambda v: any(t(v) for t in types))
        if "minLength" in schema:
            least: int = schema["minLength"]
            checks.append(lambda v: not isinstance(v, str) or len(v) >= least)
        if "maxLength" in schema:
            most: int = schema["maxLength"]
            checks.append(lambda v: not isinstance(v, str) or len(v) <= most)
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
        return checks

    def _value_keywords(self, schema: JSONDoc) -> list[Check]:
        checks: list[Check] = []
        if "const" in schema:
            checks.append(self._const(schema["const"]))
        if "enum" in schema:
            values = schema["enum"]
            if not all(isinstance(value, str) for value in values):
                raise ValueError("the checker supports string enums only")
            allowed = frozenset(values)
            checks.append(lambda v: isinstance(v, str) and v in allowed)
        if "minimum" in schema:
            low = schema["minimum"]
            checks.append(lambda v: not _is_number(v) or v >= low)
        return checks

    @staticmethod
    def _const(expected: Any) -> Check:
        if isinstance(expected, str):
            return lambda v: isinstance(v, str) and v == expected
        if is_integer(expected):
            return lambda v: _is_number(v) and v == expected
        raise ValueError("the checker supports string and integer constants only")

    def _object(self, schema: JSONDoc) -> Check:
        required = frozenset(schema.get("required", ()))
        # a property that is only a type ({"type": ["string", "null"]}, or a $ref to one) is
        # one isinstance test, made here rather than through a predicate call
        typed: dict[str, tuple[type, ...]] = {}
        properties: dict[str, Check] = {}
        for key, sub in schema.get("properties", {}).items():
            types = self._plain_types(sub)
            if types is None:
                properties[key] = self.compile(sub)
            else:
                typed[key] = types
        extra = schema.get("additionalProperties", True)
        closed = extra is False
        extra_check = None if isinstance(extra, bool) else self.compile(extra)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            if not value.keys() >= required:
                return False
            for key, item in value.items():
                types = typed.get(key)
                if types is not None:
                    if not isinstance(item, types):
                        return False
                    continue
                prop = properties.get(key)
                if prop is not None:
                    if not prop(item):
                        return False
                elif closed or (extra_check is not None and not extra_check(item)):
                    return False
            return True

        return check

    def _plain_types(self, schema: JSONDoc) -> tuple[type, ...] | None:
        """The Python types of a schema that says nothing but its JSON type(s), whose test
        is exactly isinstance (not number or integer: a bool is no number); else None."""
        while set(schema) - _ANNOTATIONS == {"$ref"}:
            ref: str = schema["$ref"]
            if not ref.startswith("#/$defs/"):
                return None
            schema = self._defs[ref.removeprefix("#/$defs/")]
        if set(schema) - _ANNOTATIONS != {"type"}:
            return None
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if not all(name in _ISINSTANCE for name in names):
            return None
        return tuple(_ISINSTANCE[name] for name in names)


def explain(root: JSONDoc, instance: Any, definition: str) -> tuple[str, list[str | int]]:
    """jsonschema's account of why `instance` fails `#/$defs/<definition>` of `root`:
    (message, path to the offending value)."""
    import jsonschema  # slow to import, and only needed once something is wrong

    validator = jsonschema.Draft202012Validator(
        {"$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}
    )
    # a few errors are enough to pick the most relevant one, and stopping early stays fast
    errors = list(itertools.islice(validator.iter_errors(instance), 20))
    if not errors:
        return "does not match the schema", []
    best = jsonschema.exceptions.best_match(errors)
    return best.message, list(best.absolute_path)
