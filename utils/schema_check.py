"""JSON Schema, fast: the subset our shipped schemas use, compiled to plain Python functions.

The schemas under */schemas/ stay the only definition of each file format. Hot paths (every
checkpoint journal record, every archive line, a million mappings at load) check with
functions generated from them; only when one fails does jsonschema run, to say what is wrong
and where.

Each definition becomes the source of one straight-line function: each property read once
and its keywords inlined as `if not ...: return False`, a missing required property caught as
a KeyError, a closed object's keys counted; a $ref to an object is a call. Compiled once.
`SchemaCompiler.source` is everything generated so far, and `inspect.getsource(check)` shows
one function: read them when a verdict surprises.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import math
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
_OBJECT_KEYWORDS = frozenset({"required", "properties", "additionalProperties"})


def is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# jsonschema's test of each JSON type, on the value named {0}: a bool is no number, 1.0 is an
# integer. An exact int is tried first, being what json.loads makes; a bool has two instances.
_TYPE_TESTS = {
    "string": "isinstance({0}, str)",
    "integer": "(type({0}) is int or is_integer({0}))",
    "number": "(type({0}) is int or _is_number({0}))",
    "boolean": "({0} is True or {0} is False)",
    "null": "{0} is None",
    "object": "isinstance({0}, dict)",
    "array": "isinstance({0}, list)",
}
_INDENT = "    "


def _same(one: str, other: str) -> bool:
    """Whether two expressions parse to the same tree (for dropping needless parentheses)."""
    try:
        return ast.dump(ast.parse(one, mode="eval")) == ast.dump(ast.parse(other, mode="eval"))
    except SyntaxError:
        return False


def _group(expression: str) -> str:
    """`expression` in parentheses, unless it already is one parenthesized group."""
    grouped = expression.startswith("(") and _same(expression, expression[1:-1])
    return expression if grouped else f"({expression})"


def _negated(tests: list[str]) -> str:
    """`not` all of `tests`, in parentheses unless they are one call or one group."""
    both = " and ".join(tests)
    call = isinstance(ast.parse(both, mode="eval").body, ast.Call | ast.Name)
    return f"not {both}" if call else f"not {_group(both)}"


def _literal(value: Any) -> str:
    """`value` as Python source: only strings and numbers reach the generated code."""
    if isinstance(value, str) or (_is_number(value) and math.isfinite(value)):
        return repr(value)
    raise ValueError(f"the checker supports string and number values only, not {value!r}")


def _either(tests: list[str]) -> str:
    """Any of `tests`, as one term of an `and`."""
    return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"


class _Function:
    """The source of one generated function: its constants, then its lines."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.constants: list[str] = []  # "name = source" lines, before the function
        self.constant_names: dict[str, str] = {}  # a constant's source -> its name
        self.variables = itertools.count(1)
        self.reads_required = False  # reads a required property by subscript: catch KeyError

    def variable(self) -> str:
        return f"v{next(self.variables)}"


class SchemaCompiler:
    """Turns the subset of JSON Schema our schemas use into generated Python functions.

    jsonschema needs ~30 us per journal record or archive line and minutes for a million
    mappings; a generated check needs about a microsecond for a whole comment line. They are
    generated from the shipped schema, so it stays the only definition; an unsupported
    keyword is an error rather than ignored, and tests check that both agree. jsonschema
    itself explains a failure.
    """

    def __init__(self, root: JSONDoc) -> None:
        self._defs: JSONDoc = root.get("$defs", {})
        self._functions: dict[str, str] = {}  # definition -> the name of its function
        self._expanding: set[str] = set()  # definitions being inlined (stops a recursion)
        self._numbers = itertools.count(1)
        self._chunks: list[str] = []
        self._namespace: dict[str, Any] = {
            "re": re,
            "is_integer": is_integer,
            "_is_number": _is_number,
            "_MISSING": object(),
        }

    @property
    def source(self) -> str:
        """The Python source of every function generated so far (for reading, not running)."""
        return "\n\n".join(self._chunks)

    def definition(self, name: str) -> Check:
        check: Check = self._namespace[self._function_of(name)]
        return check

    def compile(self, schema: JSONDoc) -> Check:
        name = f"check_schema_{next(self._numbers)}"
        self._generate(name, schema)
        check: Check = self._namespace[name]
        return check

    def _function_of(self, definition: str) -> str:
        if definition not in self._functions:
            schema = self._defs[definition]
            name = "check_" + re.sub(r"\W", "_", definition)
            if name in self._namespace or name in self._functions.values():
                name += f"_{next(self._numbers)}"
            # named before it is generated: a definition that refers to itself calls itself
            self._functions[definition] = name
            try:
                self._generate(name, schema)
            except BaseException:
                del self._functions[definition]
                raise
        return self._functions[definition]

    def _generate(self, name: str, schema: JSONDoc) -> None:
        function = _Function(name)
        body = [*self._checks(schema, "v", function), "return True"]
        if function.reads_required:
            body = ["try:", *[_INDENT + line for line in body], "except KeyError:"]
            body += [_INDENT + "return False  # a required property is missing"]
        lines = [*function.constants, f"def {name}(v):", *[_INDENT + line for line in body]]
        text = "\n".join(lines) + "\n"
        filename = f"<schema check {name} {id(self):x}>"
        # so that tracebacks and inspect.getsource show the generated lines
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        exec(compile(text, filename, "exec"), self._namespace)  # noqa: S102 - our own source
        self._chunks.append(text)

    def _constant(self, function: _Function, kind: str, source: str) -> str:
        """The name of a value the function uses, defined in its own source (not shared: each
        function's source is whole, and one that failed to generate leaves nothing behind)."""
        if source not in function.constant_names:
            function.constant_names[source] = name = f"_{kind}_{next(self._numbers)}"
            function.constants.append(f"{name} = {source}")
        return function.constant_names[source]

    def _checks(self, schema: JSONDoc, value: str, function: _Function) -> list[str]:
        """Lines that return False when the variable `value` does not match `schema`."""
        lines: list[str] = []
        known, tests = self._tests(schema, value, function)
        if tests:
            lines += [f"if {_negated(tests)}:", _INDENT + "return False"]
        if _OBJECT_KEYWORDS & schema.keys():
            block = self._object(schema, value, function)
            if block:
                # a subclass of dict is checked as the plain dict of its items(), as before
                copy = f"{value} = dict({value}.items())  # a subclass: its own items"
                block = [f"if type({value}) is not dict:", _INDENT + copy, *block]
            lines += self._only_if(known == "object", f"isinstance({value}, dict)", block)
        if "items" in schema:
            item = function.variable()
            body = self._checks(schema["items"], item, function)
            block = [f"for {item} in {value}:", *[_INDENT + line for line in body]] if body else []
            lines += self._only_if(known == "array", f"isinstance({value}, list)", block)
        return lines

    @staticmethod
    def _only_if(known: bool, test: str, block: list[str]) -> list[str]:
        """`block`, run only when `test` holds (object and array keywords pass other types)."""
        if known or not block:
            return block
        return [f"if {test}:", *[_INDENT + line for line in block]]

    def _expression(self, schema: JSONDoc, value: str, function: _Function) -> list[str] | None:
        """The tests for `schema`, to be joined by `and`, or None when it needs statements."""
        if isinstance(schema, dict) and (_OBJECT_KEYWORDS | {"items"}) & schema.keys():
            return None
        return self._tests(schema, value, function)[1]

    def _tests(
        self, schema: JSONDoc, value: str, function: _Function
    ) -> tuple[str | None, list[str]]:
        """The tests of every keyword but the object and array ones, to be joined by `and`,
        and the JSON type `value` is known to have once they pass (None: not one type)."""
        if not isinstance(schema, dict):
            raise ValueError(f"the checker supports object schemas only, not {schema!r}")
        unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise ValueError(f"schema keyword(s) {sorted(unknown)} not supported by the checker")
        tests: list[str] = []
        if "$ref" in schema:
            tests += self._reference(schema["$ref"], value, function)
        known = None
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            if not set(names) <= _TYPE_TESTS.keys():
                raise ValueError(f"schema type(s) {names} not supported by the checker")
            tests.append(_either([_TYPE_TESTS[name].format(value) for name in names]))
            known = names[0] if len(names) == 1 else None
        tests += self._string_tests(schema, value, function, known == "string")
        tests += self._value_tests(schema, value, known)
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                options = [self._option(option, value, function) for option in schema[keyword]]
                if keyword == "anyOf":
                    tests.append(_either(options) if options else "False")
                elif len(options) == 2:  # exactly one of two: the tests give bools
                    tests.append(f"{_group(options[0])} != {_group(options[1])}")
                else:
                    tests.append(f"[{', '.join(options)}].count(True) == 1")
        return known, tests

    def _string_tests(
        self, schema: JSONDoc, value: str, function: _Function, known: bool
    ) -> list[str]:
        """minLength, maxLength and pattern: they pass any value that is not a string."""
        tests: list[str] = []
        if "minLength" in schema:
            tests.append(f"len({value}) >= {_literal(schema['minLength'])}")
        if "maxLength" in schema:
            tests.append(f"len({value}) <= {_literal(schema['maxLength'])}")
        if "pattern" in schema:
            search = f"re.compile({_literal(schema['pattern'])}).search"
            tests.append(f"{self._constant(function, 'pattern', search)}({value}) is not None")
        if known or not tests:
            return tests
        return [f"(not isinstance({value}, str) or {test})" for test in tests]

    @staticmethod
    def _value_tests(schema: JSONDoc, value: str, known: str | None) -> list[str]:
        tests: list[str] = []
        if "const" in schema:
            expected = schema["const"]
            if isinstance(expected, str):
                test = "" if known == "string" else f"isinstance({value}, str) and "
                tests.append(f"{test}{value} == {_literal(expected)}")
            elif is_integer(expected):
                test = "" if known in ("integer", "number") else f"_is_number({value}) and "
                tests.append(f"{test}{value} == {_literal(expected)}")
            else:
                raise ValueError("the checker supports string and integer constants only")
        if "enum" in schema:
            values = schema["enum"]
            if not all(isinstance(item, str) for item in values):
                raise ValueError("the checker supports string enums only")
            # a set display of constants after `in` is compiled to one frozenset constant
            allowed = "{" + ", ".join(_literal(item) for item in sorted(set(values))) + "}"
            test = "" if known == "string" else f"isinstance({value}, str) and "
            tests.append(f"{test}{value} in {allowed}" if values else "False")
        if "minimum" in schema:
            low = _literal(schema["minimum"])
            if known in ("integer", "number"):
                tests.append(f"{value} >= {low}")
            else:
                tests.append(f"(not _is_number({value}) or {value} >= {low})")
        return tests

    def _option(self, schema: JSONDoc, value: str, function: _Function) -> str:
        """An expression for one option of anyOf/oneOf: inline, or a call to its own function."""
        tests = self._expression(schema, value, function)
        if tests is None:
            name = f"{function.name}_option_{next(self._numbers)}"
            self._generate(name, schema)
            return f"{name}({value})"
        return "True" if not tests else tests[0] if len(tests) == 1 else _group(" and ".join(tests))

    def _reference(self, ref: str, value: str, function: _Function) -> list[str]:
        """A definition's tests inlined when they are expressions; else a call to its function."""
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"only local $defs references are supported, not {ref}")
        name = ref.removeprefix("#/$defs/")
        schema = self._defs[name]
        if name not in self._expanding:
            self._expanding.add(name)
            try:
                tests = self._expression(schema, value, function)
            finally:
                self._expanding.discard(name)
            if tests is not None:
                return tests
        return [f"{self._function_of(name)}({value})"]

    def _object(self, schema: JSONDoc, value: str, function: _Function) -> list[str]:
        """required, properties, additionalProperties of a value known to be a plain dict.

        A required property is read with `value[key]`: when it is missing, the KeyError ends
        the function (see _generate). A closed object (additionalProperties false) is counted
        rather than compared as a set: every required key is there, so it has no other key
        when its length is theirs plus the optional ones read."""
        lines: list[str] = []
        required = list(dict.fromkeys(schema.get("required", [])))
        properties: JSONDoc = schema.get("properties", {})
        if not all(isinstance(key, str) for key in [*required, *properties]):
            raise ValueError("the checker supports string property names only")
        present: list[str] = []  # per optional property: a test that it is there
        for key in required:
            if key not in properties:
                lines += [f"if {key!r} not in {value}:", _INDENT + "return False"]
        for key, sub in properties.items():
            item = function.variable()
            body = self._checks(sub, item, function)
            if key in required and body:
                function.reads_required = True
                lines += [f"{item} = {value}[{key!r}]", *body]
            elif key in required:
                lines += [f"if {key!r} not in {value}:", _INDENT + "return False"]
            elif body:
                lines.append(f"{item} = {value}.get({key!r}, _MISSING)")
                lines += [f"if {item} is not _MISSING:", *[_INDENT + line for line in body]]
                present.append(f"({item} is not _MISSING)")
            else:
                present.append(f"({key!r} in {value})")
        extra = schema.get("additionalProperties", True)
        if extra is False:
            count = " + ".join([str(len(properties.keys() & set(required))), *present])
            lines += [f"if len({value}) != {count}:", _INDENT + "return False"]
        elif extra is not True:
            item = function.variable()
            body = self._checks(extra, item, function)
            if body and properties:
                key = function.variable()
                known = self._constant(function, "keys", f"frozenset({sorted(properties)!r})")
                lines.append(f"for {key}, {item} in {value}.items():")
                lines += [_INDENT + f"if {key} not in {known}:"]
                lines += [_INDENT * 2 + line for line in body]
            elif body:
                lines.append(f"for {item} in {value}.values():")
                lines += [_INDENT + line for line in body]
        return lines


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
