"""A fast path for marshmallow loading, compiled from the schema itself, for input that arrives by the thousand.

marshmallow spends some 50 µs on an order.paid event, most of it in per-field machinery (error stores, hooks,
nested schema calls): a fifth of what a batch of 1,000 costs. ``FastLoader`` walks the same schema once and
writes one plain Python function per (nested) schema from its fields and validators, so that there is still one
definition of a valid event, and checking one costs a few straight-line tests per field.

It is conservative: it vouches only for input that every check passes and then returns exactly what
``schema.load`` would. Anything else — every invalid input, a field or validator kind it does not know, a schema
with hooks — it declines (``load`` returns None), and the caller asks the schema, which names the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow.utils import missing

Check = Callable[[Any], Any]


class _Decline(Exception):
    """The fast path does not vouch for this input."""


class FastLoader:
    """``schema.load`` for the valid case, or None."""

    def __init__(self, schema: Schema) -> None:
        self._load = _Compiler().schema(schema)

    def load(self, data: Any) -> dict[str, Any] | None:
        """What ``schema.load(data)`` returns, or None when the schema must judge ``data`` itself."""
        if self._load is None:
            return None
        try:
            return self._load(data)
        except _Decline:
            return None


def _decline() -> Any:
    raise _Decline


def _aware_datetime(value: Any) -> datetime:
    # The function marshmallow's DateTime field parses "iso" with, so the result is the same object.
    if not isinstance(value, str):
        _decline()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _decline()
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        _decline()
    return parsed


class _Compiler:
    """Writes the source of a schema's check, and of its nested schemas' and list items' checks, then runs it.

    Each generated function takes the input value and returns what the schema loads it as, or raises _Decline.
    Every value it needs (field names, bounds, choices, defaults) is passed in by name, never spelled into the
    source, so nothing in a schema can change the code's meaning.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_decline": _decline,
            "_aware_datetime": _aware_datetime,
            "Mapping": Mapping,
            "missing": missing,
        }
        self.source: list[str] = []

    def _name(self, prefix: str, value: Any = None) -> str:
        name = f"_{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _define(self, prefix: str, argument: str, body: list[str]) -> Check:
        name = self._name(prefix)
        source = "\n".join([f"def {name}({argument}):", *(f"    {line}" for line in body)])
        # Our own code, see above: nothing from a schema is spelled into the source.
        exec(compile(source, f"<fastload {name}>", "exec"), self.namespace)  # noqa: S102  # nosec B102
        return self.namespace[name]

    def schema(self, schema: Schema) -> Check | None:
        """The check of a whole schema, or None when the fast path cannot take it on."""
        hooks = getattr(schema, "_hooks", None)  # pre/post_load, validates…: anything that may change the result
        if hooks is None or any(hooks.values()) or schema.unknown != RAISE:
            return None
        names = self._name("names", frozenset(schema.load_fields))
        body = [f"if not isinstance(data, Mapping) or not {names}.issuperset(data):", "    _decline()", "out = {}"]
        for name, field in schema.load_fields.items():
            if field.data_key is not None or field.attribute is not None:
                return None
            check = self._field(field)
            if check is None:
                return None
            key = self._name("key", name)
            body += [f"value = data.get({key}, missing)", "if value is missing:"]
            default = field.load_default
            if field.required:
                body.append("    _decline()")
            elif default is missing:
                body.append("    pass")
            else:
                call = "()" if callable(default) else ""
                body.append(f"    out[{key}] = {self._name('default', default)}{call}")
            body += ["elif value is None:", f"    out[{key}] = None" if field.allow_none else "    _decline()"]
            body += ["else:", *(f"    {line}" for line in check), f"    out[{key}] = value"]
        body.append("return out")
        return self._define("load_schema", "data", body)

    def _field(self, field: fields.Field) -> list[str] | None:
        """Lines that turn ``value`` (not None) into what the field loads it as, or decline."""
        lines = self._converter(field)
        if lines is None:
            return None
        for validator in field.validators:
            check = self._validator(validator)
            if check is None:
                return None
            lines += check
        return lines

    def _converter(self, field: fields.Field) -> list[str] | None:
        loads_as_itself = getattr(field, "loads_as_itself", None)
        if loads_as_itself is not None:
            # A field of our own that says which values it loads unchanged.
            return [f"if not {self._name('loads_as_itself', loads_as_itself)}(value):", "    _decline()"]
        if type(field) is fields.String:
            return ["if not isinstance(value, str):", "    _decline()"]
        if type(field) is fields.AwareDateTime and field.format in (None, "iso") and field.default_timezone is None:
            return ["value = _aware_datetime(value)"]
        if type(field) is fields.Nested and not field.many and field.only is None and field.exclude == ():
            nested = self.schema(field.schema)
            return None if nested is None else [f"value = {self._name('nested', nested)}(value)"]
        if type(field) is fields.List:
            item = self._field(field.inner)
            if item is None:
                return None
            check = self._name("item", self._define("load_item", "value", [*item, "return value"]))
            return ["if not isinstance(value, list):", "    _decline()", f"value = [{check}(item) for item in value]"]
        return None

    def _validator(self, validator: Any) -> list[str] | None:
        if type(validator) is validate.Length and validator.equal is None:
            return ["size = len(value)", *self._bounds("size", validator.min, validator.max, True, True)]
        if type(validator) is validate.Range:
            return self._bounds("value", validator.min, validator.max, validator.min_inclusive, validator.max_inclusive)
        if type(validator) is validate.OneOf:
            return [f"if value not in {self._name('choices', frozenset(validator.choices))}:", "    _decline()"]
        return None

    def _bounds(self, variable: str, low: Any, high: Any, low_inclusive: bool, high_inclusive: bool) -> list[str]:
        lines = []
        if low is not None:
            lines += [f"if {variable} {'<' if low_inclusive else '<='} {self._name('low', low)}:", "    _decline()"]
        if high is not None:
            lines += [f"if {variable} {'>' if high_inclusive else '>='} {self._name('high', high)}:", "    _decline()"]
        return lines
