"""One description per request body: a Pydantic model documents the body in OpenAPI and, through the rules in its
fields' metadata, parses it with Bill24's own messages, in the order of the model's fields.

    class ConfirmRequest(WireBody):
        identity_code: Annotated[str, Text(required=True, max_len=100)]
        total_amount: Annotated[Decimal, Present()]
        description: str | None = None  # no rule: passed through as sent

    body = parse(ConfirmRequest, raw)  # a ConfirmRequest, or ERR_MISSED_FIELD with every message at once

A ruled field holds what its rule answers (an amount in minor units, a date as a UTC datetime, a nested list as
models); a field without a rule holds the value as sent. ``model_fields_set`` names the fields whose key was sent.
Pydantic's own validation is never run on a body (its messages are not Bill24's, and amounts must not pass through a
float); the rules also write the constraints they enforce into the JSON schema, so the document cannot drift from
the parser. Checks that span fields, or refuse a whole body first, are the model's ``screen`` and ``refine``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

from tonle.kit.clock import local_to_utc
from tonle.kit.money import AmountError, to_minor
from tonle.wire.dates import parse_instant, parse_wire_date
from tonle.wire.validate import EMAIL_RE, Checker, amount_message, provide, wrong_type

M = TypeVar("M", bound=BaseModel)


@dataclass
class Pass:
    """One object being parsed: its checker (shared by nested objects), its source, the label prefix of its
    messages (``wallet[0].``) and what its fields answered so far."""

    c: Checker
    src: dict[str, Any]
    prefix: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    outer: Pass | None = None

    def name(self, key: str, label: str | None = None) -> str:
        return self.prefix + (label or key)

    def lookup(self, name: str) -> Any:
        """A field's answer here, or in the enclosing object (a line's amount is in its body's currency)."""
        p: Pass | None = self
        while p is not None:
            if name in p.values:
                return p.values[name]
            p = p.outer
        return None

    def fail(self, message: tuple[str, str]) -> None:
        self.c.fail(message)


class WireBody(BaseModel):
    """A request body's model; the hooks are for checks a field's rule cannot make alone."""

    @classmethod
    def screen(cls, body: dict[str, Any]) -> None:
        """Before any field: raise to refuse the body as a whole (ASP.NET's model binding)."""

    @classmethod
    def refine(cls, p: Pass) -> None:
        """After every field: checks across fields (they may read and change ``p.values``)."""


class Rule:
    """How one field is checked; ``check`` answers the parsed value (None when missing or refused)."""

    def check(self, p: Pass, key: str) -> Any:
        raise NotImplementedError

    def late(self, p: Pass, key: str, value: Any) -> Any:
        """A second look once every field had its first (the bank API names choice errors after the rest)."""
        return value

    def keys(self, key: str) -> tuple[str, ...]:
        """The body keys this field reads (an older name may stand for it)."""
        return (key,)

    def schema(self, js: JsonSchemaValue) -> None:
        """Write the rule's constraints into the field's JSON schema."""

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        js = handler(core)
        self.schema(js)
        return js


def _or(words: tuple[str, ...], joiner: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {joiner} {words[-1]}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Text(Rule):
    """A string: absent, null and blank count as missing; too long or not a string is refused.

    ``choices`` are the accepted values (after ``fold``: "upper" or "lower"), named in the message as ``shown`` (or
    as ``choice_text``); ``late_choice`` names a wrong choice after every other field. ``alias`` is an older key
    read when this one is missing (``alias_on_blank``: or blank). ``required_with`` makes the field required when
    that other field has a value; ``only_if_sent`` leaves an absent key unchecked (an update keeps what it had)."""

    required: bool = False
    max_len: int = 255
    label: str | None = None
    unit: str = "characters"
    choices: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()
    choice_text: tuple[str, str] | None = None
    fold: str | None = None
    late_choice: bool = False
    default: str | None = None
    alias: str | None = None
    alias_on_blank: bool = True
    required_with: str | None = None
    only_if_sent: bool = False

    def keys(self, key: str) -> tuple[str, ...]:
        return (key, self.alias) if self.alias else (key,)

    def source_key(self, p: Pass, key: str) -> str:
        if self.alias is None:
            return key
        primary, older = p.src.get(key), p.src.get(self.alias)
        if self.alias_on_blank:
            return self.alias if primary in (None, "") and older not in (None, "") else key
        return self.alias if primary is None and older is not None else key

    def check(self, p: Pass, key: str) -> Any:
        if self.only_if_sent and key not in p.src:
            return None
        used = self.source_key(p, key)
        required = self.required or (self.required_with is not None and p.lookup(self.required_with) is not None)
        value = p.c.string(
            used,
            required=required,
            max_len=self.max_len,
            label=p.name(used, self.label),
            unit=self.unit,
            source=p.src,
        )
        if value is not None and self.fold:
            value = value.upper() if self.fold == "upper" else value.lower()
        if value is None:
            value = self.default
        elif not self.late_choice:
            value = self.choose(p, used, value)
        return value

    def late(self, p: Pass, key: str, value: Any) -> Any:
        return self.choose(p, key, value) if self.late_choice and value is not None else value

    def choose(self, p: Pass, key: str, value: str) -> str | None:
        if not self.choices or value in self.choices:
            return value
        name = p.name(key, self.label)
        shown = self.shown or self.choices
        p.fail(self.choice_text or (f"[{name}] must be {_or(shown, 'or')}.", f"[{name}] ត្រូវតែជា {' ឬ '.join(shown)}។"))
        return None

    def schema(self, js: JsonSchemaValue) -> None:
        target = _non_null(js)
        target["maxLength"] = self.max_len
        if self.required:
            target["minLength"] = 1
            target.setdefault("pattern", r"\S")  # a field's own, stricter pattern (a date's) stays
        if self.choices:
            target["enum"] = list(self.shown or self.choices)


@dataclass(frozen=True)
class Url(Text):
    """A URL whose scheme is one of ``schemes``."""

    max_len: int = 2000
    schemes: tuple[str, ...] = ("http://", "https://")

    def choose(self, p: Pass, key: str, value: str) -> str | None:
        if value.lower().startswith(self.schemes):
            return value
        name = p.name(key, self.label)
        kind = "https" if self.schemes == ("https://",) else "http(s)"
        p.fail((f"[{name}] must be an {kind} URL.", f"[{name}] ត្រូវតែជា URL {kind}។"))
        return value  # the answer is refused anyway; the value is kept as the old parsers kept it

    def schema(self, js: JsonSchemaValue) -> None:
        super().schema(js)
        _non_null(js)["format"] = "uri"


@dataclass(frozen=True)
class Email(Rule):
    """An e-mail address (``'Email' is not a valid email address.``, ASP.NET's text)."""

    label: str = "Email"
    only_if_sent: bool = False

    def check(self, p: Pass, key: str) -> Any:
        if self.only_if_sent and key not in p.src:
            return None
        value = p.c.string(key, max_len=254, label=p.name(key), source=p.src)
        if value is not None and not EMAIL_RE.match(value):
            p.fail((f"'{self.label}' is not a valid email address.", f"'{self.label}' មិនមែនជាអាសយដ្ឋានអ៊ីមែលត្រឹមត្រូវទេ។"))
            return None
        return value

    def schema(self, js: JsonSchemaValue) -> None:
        target = _non_null(js)
        target["maxLength"] = 254
        target["pattern"] = EMAIL_RE.pattern


@dataclass(frozen=True)
class Present(Rule):
    """Any value, as long as there is one (its own check comes later, where its meaning is known)."""

    label: str | None = None

    def check(self, p: Pass, key: str) -> Any:
        value = p.src.get(key)
        if value is None:
            p.fail(provide(p.name(key, self.label)))
        return value


@dataclass(frozen=True)
class Amount(Rule):
    """An amount in the currency that field ``currency`` answered (here or in the enclosing object), answered in
    minor units; unchecked while the currency is unknown (its own message says why)."""

    currency: str = "currency"
    required: bool = False
    positive: bool = False
    label: str | None = None

    def check(self, p: Pass, key: str) -> Any:
        raw = p.src.get(key)
        name = p.name(key, self.label)
        if raw is None or raw == "":
            if self.required:
                p.fail(provide(name))
            return None
        currency = p.lookup(self.currency)
        if currency is None:
            return None
        try:
            minor = to_minor(raw, currency)
        except AmountError as exc:
            p.fail(amount_message(name, exc, currency))
            return None
        if self.positive and minor <= 0:
            p.fail((f"[{name}] must be greater than 0.", f"[{name}] ត្រូវតែធំជាង 0។"))
            return None
        return minor


@dataclass(frozen=True)
class Date(Rule):
    """A Phnom Penh date or date-time in one of the wire's forms, answered in UTC."""

    max_len: int = 40

    def check(self, p: Pass, key: str) -> Any:
        raw = p.c.string(key, max_len=self.max_len, label=p.name(key), source=p.src)
        parsed = parse_wire_date(raw) if raw else None
        if raw and parsed is None:
            name = p.name(key)
            p.fail((f"[{name}] is not a valid date.", f"[{name}] មិនមែនជាកាលបរិច្ឆេទត្រឹមត្រូវទេ។"))
        return local_to_utc(parsed) if parsed else None


@dataclass(frozen=True)
class Instant(Rule):
    """A date or date-time whose written offset counts (``...Z``, ``...+07:00``; none: Phnom Penh), in UTC."""

    required: bool = False
    max_len: int = 40

    def check(self, p: Pass, key: str) -> Any:
        raw = p.c.string(key, required=self.required, max_len=self.max_len, label=p.name(key), source=p.src)
        parsed = parse_instant(raw) if raw else None
        if raw and parsed is None:
            name = p.name(key)
            p.fail((f"[{name}] is not a valid date.", f"[{name}] មិនមែនជាកាលបរិច្ឆេទត្រឹមត្រូវទេ។"))
        return parsed

    def schema(self, js: JsonSchemaValue) -> None:
        _non_null(js).update({"type": "string", "format": "date-time", "maxLength": self.max_len})


@dataclass(frozen=True)
class Nested(Rule):
    """One object parsed by ``model`` (its messages labelled ``key.field``)."""

    model: type[BaseModel]
    required: bool = False

    def check(self, p: Pass, key: str) -> Any:
        raw = p.src.get(key)
        name = p.name(key)
        if raw is None:
            if self.required:
                p.fail(provide(name))
            return None
        if not isinstance(raw, dict):
            p.fail(wrong_type(name, "object"))
            return None
        return _fill(self.model, Pass(p.c, raw, prefix=f"{name}.", outer=p))


@dataclass(frozen=True)
class Each(Rule):
    """A list of objects, each parsed by ``model`` (its messages labelled ``key[i].field``); absent: empty."""

    model: type[BaseModel]

    def check(self, p: Pass, key: str) -> Any:
        raw = p.src.get(key)
        name = p.name(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            p.fail(wrong_type(name, "list"))
            return []
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                p.fail(wrong_type(f"{name}[{i}]", "object"))
                continue
            out.append(_fill(self.model, Pass(p.c, item, prefix=f"{name}[{i}].", outer=p)))
        return out


@dataclass(frozen=True)
class Custom(Rule):
    """A field checked by a function of its own (``fn(p, key) -> value``): for a quirk only one body has."""

    fn: Callable[[Pass, str], Any]
    also: tuple[str, ...] = ()  # further keys the function reads

    def check(self, p: Pass, key: str) -> Any:
        return self.fn(p, key)

    def keys(self, key: str) -> tuple[str, ...]:
        return (key, *self.also)


def _non_null(js: JsonSchemaValue) -> JsonSchemaValue:
    """The non-null branch of an optional field's schema (``anyOf: [{...}, {"type": "null"}]``)."""
    for branch in js.get("anyOf", ()):
        if branch.get("type") != "null":
            return branch
    return js


def rule_of(model: type[BaseModel], name: str) -> Rule | None:
    return next((m for m in model.model_fields[name].metadata if isinstance(m, Rule)), None)


_Plan = list[tuple[str, str, Rule | None, tuple[str, ...]]]
_PLANS: dict[type[BaseModel], _Plan] = {}


def _plan(model: type[BaseModel]) -> _Plan:
    """Each field's name, key, rule and the keys it reads, worked out once per model (a bulk import parses
    thousands of rows with the same model)."""
    plan = _PLANS.get(model)
    if plan is None:
        plan = []
        for name, info in model.model_fields.items():
            key = info.alias or name
            rule = rule_of(model, name)
            plan.append((name, key, rule, rule.keys(key) if rule is not None else (key,)))
        _PLANS[model] = plan
    return plan


def _fill(model: type[M], p: Pass) -> M:
    ruled: list[tuple[str, str, Rule]] = []
    sent: set[str] = set()
    src, values = p.src, p.values
    for name, key, rule, keys in _plan(model):
        if rule is not None:
            values[name] = rule.check(p, key)
            ruled.append((name, key, rule))
            for k in keys:
                if k in src:
                    sent.add(name)
                    break
        elif key in src:
            values[name] = src[key]
            sent.add(name)
    for name, key, rule in ruled:
        values[name] = rule.late(p, key, values[name])
    if issubclass(model, WireBody):
        model.refine(p)
        return _construct(model, p.values, sent)
    return model.model_construct(_fields_set=sent, **p.values)


_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
_MISSING = object()


def _construct(model: type[M], values: dict[str, Any], sent: set[str]) -> M:
    """``model_construct`` for a body model (no extras, no private attributes), without its per-call bookkeeping:
    every field is in ``values`` or takes its default (a bulk import builds thousands)."""
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        defaults = _DEFAULTS[model] = {
            name: info.default if info.default_factory is None else _MISSING
            for name, info in model.model_fields.items()
        }
    fields = {}
    for name, default in defaults.items():
        if name in values:
            fields[name] = values[name]
        elif default is _MISSING:
            fields[name] = model.model_fields[name].default_factory()  # type: ignore[misc,call-arg]
        else:
            fields[name] = default
    m = model.__new__(model)
    object.__setattr__(m, "__dict__", fields)
    object.__setattr__(m, "__pydantic_fields_set__", sent)
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m


def parse(model: type[M], body: Any) -> M:
    """The body as ``model``: every ruled field checked in the model's field order (Bill24 lists its messages in
    that order), the other fields taken as sent; ERR_MISSED_FIELD with all the messages when any fails."""
    c = Checker(body)
    if issubclass(model, WireBody):
        model.screen(c.body)
    out = _fill(model, Pass(c, c.body))
    c.done()
    return out
