"""Rules files: YAML text -> plain data -> a validated `Rules` model.

The bracketed numbers of the 2013 paper ([10] members, [20] days) are parameters of a
rules file, never constants in code. Every key but the three below has a default:
`timezone`, `membership.max_members_per_government`,
`electronic_decision.objection_period_days`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jcbot.core.errors import RulesError
from jcbot.core.yamlsafe import YamlError, load_yaml

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)
_TERM = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class TermLength:
    """A calendar length: years and months are counted on the calendar, days as days."""

    years: int = 0
    months: int = 0
    days: int = 0


def parse_term(text: str) -> TermLength:
    """Read an ISO 8601 duration of dates only (P1Y, P6M, P1Y6M, P2W, P400D)."""
    m = _TERM.match(text)
    if not m or text == "P":
        raise ValueError(f"expected an ISO 8601 duration such as P1Y or P6M, got {text!r}")
    y, mo, w, d = (int(g) if g else 0 for g in m.groups())
    term = TermLength(years=y, months=mo, days=d + 7 * w)
    if term == TermLength():
        raise ValueError(f"a term cannot be empty, got {text!r}")
    return term


class Committee(BaseModel):
    """How the committee is named in messages and on the public record."""

    model_config = _STRICT
    name: str = "Joint Committee"
    host_country: str = "Host country"
    code: str = Field(default="JC", pattern=r"^[A-Z]{2,4}$")


class Membership(BaseModel):
    model_config = _STRICT
    max_members_per_government: int = Field(ge=1)


class Cochairs(BaseModel):
    model_config = _STRICT
    term: str = "P1Y"

    @field_validator("term")
    @classmethod
    def _term(cls, value: str) -> str:
        parse_term(value)
        return value

    @property
    def term_length(self) -> TermLength:
        return parse_term(self.term)


class ElectronicDecision(BaseModel):
    model_config = _STRICT
    objection_period_days: int = Field(ge=1)
    period_ends: Literal["end_of_day", "exact"] = "end_of_day"
    withdrawn_negative_counts: bool = True
    cochairs_must_affirm_within_period: bool = False


class Reminders(BaseModel):
    model_config = _STRICT
    days_before_deadline: tuple[int, ...] = (7, 3, 1)
    daily_digest: bool = False

    @field_validator("days_before_deadline", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        # YAML gives a list; strict mode wants a tuple.
        return tuple(value) if isinstance(value, list) else value

    @field_validator("days_before_deadline")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 for d in value):
            raise ValueError("expected whole days >= 1")
        return tuple(sorted(set(value), reverse=True))


class Publication(BaseModel):
    model_config = _STRICT
    publish_tally: bool = False


class Meetings(BaseModel):
    model_config = _STRICT
    flag_after_days: int = Field(default=365, ge=1)


class Cycle(BaseModel):
    """The project cycle's periods in calendar days (PROJECT_CYCLE.md; the paper's [7], [30])."""

    model_config = _STRICT
    completeness_check_days: int = Field(default=7, ge=1)
    pdd_public_input_days: int = Field(default=30, ge=1)
    methodology_public_input_days: int = Field(default=15, ge=1)


class Rules(BaseModel):
    """The validated rules of one Joint Committee."""

    model_config = _STRICT
    timezone: str
    committee: Committee = Committee()
    membership: Membership
    cochairs: Cochairs = Cochairs()
    electronic_decision: ElectronicDecision
    reminders: Reminders = Reminders()
    publication: Publication = Publication()
    meetings: Meetings = Meetings()
    cycle: Cycle = Cycle()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as Asia/Tokyo or UTC, got {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The committee's time zone, which counts the calendar days."""
        return ZoneInfo(self.timezone)


def _expected(error: dict, model: type[BaseModel]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key (expected one of: {_known_keys(error['loc'][:-1])})"
    if kind == "missing":
        return "required key is missing"
    got = f", got {value!r}"
    return {
        "int_type": "expected a whole number" + got,
        "bool_type": "expected true or false" + got,
        "string_type": "expected text" + got,
        "model_type": "expected a mapping of keys" + got,
        "model_attributes_type": "expected a mapping of keys" + got,
        "tuple_type": "expected a list" + got,
        "greater_than_equal": f"expected a number >= {error.get('ctx', {}).get('ge')}" + got,
        "string_pattern_mismatch": "expected 2 to 4 capital letters" + got,
        "literal_error": f"expected {error.get('ctx', {}).get('expected', 'an allowed value')}" + got,
    }.get(kind, str(error["msg"]).removeprefix("Value error, "))


def _known_keys(loc: tuple) -> str:
    model: type[BaseModel] = Rules
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            break
        model = field.annotation
    return ", ".join(model.model_fields)


def rules_from_data(data: Any, source: str = "<rules>") -> Rules:
    """Validate plain data (as read from YAML) into Rules, or raise RulesError naming the key."""
    if not isinstance(data, dict):
        raise RulesError(source, "", "expected a mapping of keys at the top of the file")
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise RulesError(source, key, _expected(first, Rules)) from None


def rules_from_text(text: str, source: str = "<rules>") -> Rules:
    """Parse and validate the text of a rules file."""
    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise RulesError(source, "", f"not valid YAML: {exc}") from None
    return rules_from_data(data, source)


def effective_values(rules: Rules) -> dict[str, Any]:
    """Every key with the value in force (defaults included), flattened to dotted keys."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = list(value) if isinstance(value, tuple) else value

    walk("", rules.model_dump())
    return out
