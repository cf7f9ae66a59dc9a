"""One description per request body: a Pydantic model documents the body in OpenAPI and, through the rules in its
fields' metadata, parses it with Bill24's own messages, in the order of the model's fields.

    class ConfirmRequest(BaseModel):
        identity_code: Annotated[str, Text(required=True, max_len=100)]
        total_amount: Annotated[Decimal, Present()]
        description: str | None = None  # no rule: passed through as sent

    body = parse(ConfirmRequest, raw)  # a ConfirmRequest, or ERR_MISSED_FIELD with every message at once

Pydantic's own validation is never run on a body (its messages are not Bill24's, and amounts must not pass through a
float); the rules also write the constraints they enforce into the JSON schema, so the document cannot drift from
the parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

from tonle.wire.validate import Checker, provide

M = TypeVar("M", bound=BaseModel)


class Rule:
    """How one field is checked; ``check`` answers the parsed value (None when missing or refused)."""

    def check(self, c: Checker, key: str) -> Any:
        raise NotImplementedError

    def late(self, c: Checker, key: str, value: Any) -> Any:
        """A second look once every field had its first (Bill24 names choice errors after the missing fields)."""
        return value

    def schema(self, js: JsonSchemaValue) -> None:
        """Write the rule's constraints into the field's JSON schema."""

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        js = handler(core)
        self.schema(js)
        return js


@dataclass(frozen=True)
class Text(Rule):
    """A string: absent, null and blank count as missing; too long or not a string is refused."""

    required: bool = False
    max_len: int = 255
    label: str | None = None
    unit: str = "characters"
    choices: tuple[str, ...] = ()  # when given, the value must be one of them

    def check(self, c: Checker, key: str) -> Any:
        return c.string(key, required=self.required, max_len=self.max_len, label=self.label, unit=self.unit)

    def late(self, c: Checker, key: str, value: Any) -> Any:
        if value is not None and self.choices and value not in self.choices:
            name = self.label or key
            c.fail((f"[{name}] must be {' or '.join(self.choices)}.", f"[{name}] ត្រូវតែជា {' ឬ '.join(self.choices)}។"))
            return None
        return value

    def schema(self, js: JsonSchemaValue) -> None:
        target = _non_null(js)
        target["maxLength"] = self.max_len
        if self.required:
            target["minLength"] = 1
            target["pattern"] = r"\S"
        if self.choices:
            target["enum"] = list(self.choices)


@dataclass(frozen=True)
class Present(Rule):
    """Any value, as long as there is one (its own check comes later, where its meaning is known)."""

    label: str | None = None

    def check(self, c: Checker, key: str) -> Any:
        value = c.body.get(key)
        if value is None:
            c.fail(provide(self.label or key))
        return value


def _non_null(js: JsonSchemaValue) -> JsonSchemaValue:
    """The non-null branch of an optional field's schema (``anyOf: [{...}, {"type": "null"}]``)."""
    for branch in js.get("anyOf", ()):
        if branch.get("type") != "null":
            return branch
    return js


def rule_of(model: type[BaseModel], name: str) -> Rule | None:
    return next((m for m in model.model_fields[name].metadata if isinstance(m, Rule)), None)


def parse(model: type[M], body: Any) -> M:
    """The body as ``model``: every ruled field checked in the model's field order (Bill24 lists its messages in
    that order), the other fields taken as sent; ERR_MISSED_FIELD with all the messages when any fails."""
    c = Checker(body)
    values: dict[str, Any] = {}
    ruled: list[tuple[str, str, Rule]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        rule = rule_of(model, name)
        if rule is not None:
            values[name] = rule.check(c, key)
            ruled.append((name, key, rule))
        elif key in c.body:
            values[name] = c.body[key]
    for name, key, rule in ruled:
        values[name] = rule.late(c, key, values[name])
    c.done()
    return model.model_construct(**values)
