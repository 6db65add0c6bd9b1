"""The campaign file's shape: strict pydantic models whose descriptions are the documentation."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CALL_STATUSES = (
    "completed",
    "no_answer",
    "busy",
    "voicemail",
    "failed",
    "invalid_number",
    "unknown",
    "canceled",
)
RETRYABLE = ("no_answer", "busy", "voicemail", "failed", "unknown", "canceled", "callback")
DEFAULT_DISPOSITIONS = (
    "meeting_booked",
    "interested",
    "callback",
    "not_interested",
    "wrong_person",
    "do_not_call",
)


def parse_duration(value: Any) -> timedelta:
    """`90s`, `20m`, `4h`, `1d` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 90s, 20m, 4h or 1d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m:
            raise ValueError(f"expected a duration like 90s, 20m, 4h or 1d, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0:
        raise ValueError(f"a duration can not be negative, got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """The shortest exact spelling of a duration: 1d, 4h, 20m, 90s."""
    seconds = td.total_seconds()
    for unit in ("d", "h", "m", "s"):
        n = seconds / _UNITS[unit]
        if n >= 1 and n == int(n):
            return f"{int(n)}{unit}"
    return f"{seconds:g}s"


def _parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 09:00 as a sexagesimal integer (540)
        if 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
    text = str(value).strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise ValueError(f"expected HH:MM, got {value!r}")
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f"expected HH:MM, got {value!r}")
        return time(23, 59, 59, 999999)
    return time(hour, minute)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h|d)$", "examples": ["90s", "4h"]}
    ),
]
ClockTime = Annotated[
    time,
    BeforeValidator(_parse_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "examples": ["09:00"]}),
]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Leads(Strict):
    """Who to call: a lead source read through DuckDB and filtered with SQL."""

    source: str = Field(description="CSV/Parquet/JSON file or glob, relative to the campaign file.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Map our column names to the source's headers, e.g. {phone: 'Phone Number'}.",
    )
    where: str | None = Field(
        None, description="DuckDB SQL boolean expression over the lead columns."
    )
    order_by: str | None = Field(None, description="DuckDB SQL ORDER BY list, e.g. 'score DESC'.")
    limit: int | None = Field(
        None, gt=0, description="At most this many leads in the campaign (after filtering)."
    )
    default_region: str = Field(
        "US",
        description="ISO 3166 country code for numbers written without +country code.",
    )

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        v = v.strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", v):
            raise ValueError(f"expected a two-letter country code like US or GB, got {v!r}")
        return v


class Agent(Strict):
    """What the voice agent says: Jinja templates rendered per lead, and its voice."""

    instructions: str | None = Field(None, description="Agent instructions (Jinja template).")
    instructions_file: str | None = Field(
        None, description="File holding the instructions template, relative to the campaign."
    )
    opening: str | None = Field(None, description="The opening line the agent greets with.")
    opening_file: str | None = Field(None, description="File holding the opening template.")
    voicemail: str | None = Field(
        None, description="Message left on voicemail (Jinja template); unset means hang up."
    )
    voice: str = Field("Leda", description="Gemini Realtime voice name.")
    model: str | None = Field(None, description="Realtime model id; unset uses the plugin default.")
    temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature.")
    lead_context: bool = Field(
        True, description="Append the structured 'Lead Context' block to the instructions."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Agent:
        for field in ("instructions", "opening"):
            inline, path = getattr(self, field), getattr(self, f"{field}_file")
            if inline is not None and path is not None:
                raise ValueError(f"give either {field} or {field}_file, not both")
            if inline is None and path is None:
                raise ValueError(f"{field} (or {field}_file) is required")
        return self


class Variant(Strict):
    """An A/B variant: a weighted override of prompt fields, assigned per lead deterministically."""

    name: Identifier = Field(description="Variant name, recorded on every attempt.")
    weight: float = Field(1.0, gt=0, description="Relative share of leads.")
    instructions: str | None = Field(None, description="Overrides agent.instructions.")
    instructions_file: str | None = Field(None, description="Overrides agent.instructions_file.")
    opening: str | None = Field(None, description="Overrides agent.opening.")
    opening_file: str | None = Field(None, description="Overrides agent.opening_file.")
    voicemail: str | None = Field(None, description="Overrides agent.voicemail.")
    voice: str | None = Field(None, description="Overrides agent.voice.")
    temperature: float | None = Field(None, ge=0, le=2, description="Overrides agent.temperature.")


class Window(Strict):
    """When calls may be placed, in each lead's own timezone."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="Weekdays on which calls may be placed.",
    )
    start: ClockTime = Field(time(9, 0), description="Local start time, HH:MM (inclusive).")
    end: ClockTime = Field(time(17, 0), description="Local end time, HH:MM (exclusive).")
    override_reason: str | None = Field(
        None,
        description="Why this window may leave 08:00-21:00 lead-local (required to do so).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"end must be after start, got {self.start:%H:%M}-{self.end:%H:%M}")
        if not self.days:
            raise ValueError("days must name at least one day")
        return self


def _default_retry() -> dict[str, timedelta]:
    return {
        "no_answer": timedelta(hours=4),
        "busy": timedelta(minutes=20),
        "voicemail": timedelta(days=1),
        "failed": timedelta(hours=1),
    }


class Pacing(Strict):
    """How fast and how often: concurrency, rate, window, attempts and retry delays."""

    max_concurrent: int = Field(5, ge=1, le=10000, description="Calls in flight at once.")
    calls_per_minute: float = Field(30, gt=0, description="Dials started per minute, at most.")
    window: Window = Field(default_factory=Window, description="Calling window (lead-local).")
    max_attempts: int = Field(3, ge=1, le=50, description="Dials per lead, at most.")
    retry: dict[
        Literal["no_answer", "busy", "voicemail", "failed", "unknown", "canceled", "callback"],
        Duration,
    ] = Field(
        default_factory=_default_retry,
        description="Delay before the next attempt, per status of the previous one. "
        "A status without a delay is not retried.",
    )
    max_call_duration: Duration = Field(
        timedelta(minutes=5), description="A call is ended after this long."
    )
    ring_timeout: Duration = Field(
        timedelta(seconds=30), description="Give up on a ringing call after this long."
    )


class Disposition(Strict):
    """A result the agent can record for an answered call."""

    name: Identifier = Field(description="snake_case name the agent records.")
    description: str | None = Field(None, description="When the agent should record it.")
    conversion: bool = Field(False, description="Counts as a conversion in reports.")


class Telephony(Strict):
    """How calls leave: the LiveKit outbound SIP trunk and numbers."""

    sip_trunk_id: str | None = Field(None, description="LiveKit outbound trunk id (ST_...).")
    caller_id: str | None = Field(None, description="Number shown to the callee (E.164).")
    transfer_to: str | None = Field(None, description="Human to transfer to (E.164 or sip:).")
    agent_name: str = Field("dialer", description="LiveKit agent name the workers register.")
    noise_cancellation: bool = Field(
        True,
        description="BVCTelephony noise cancellation on the lead's audio (needs LiveKit Cloud; "
        "set false on a self-hosted server).",
    )

    @field_validator("sip_trunk_id", "caller_id", "transfer_to", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("caller_id")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", v):
            raise ValueError(f"expected an E.164 number like +15550100123, got {v!r}")
        return v


class Recording(Strict):
    """Call recording, and the disclosure the opening must make when it is on."""

    enabled: bool = Field(False, description="Record calls (audio-only egress).")
    disclosure_pattern: str = Field(
        r"record|monitor",
        description="Regex (case-insensitive) the opening must match when recording is on.",
    )


class Spread(Strict):
    """A duration drawn uniformly between min and max."""

    min: Duration = Field(description="Shortest.")
    max: Duration = Field(description="Longest.")

    @model_validator(mode="after")
    def _ordered(self) -> Spread:
        if self.max < self.min:
            raise ValueError("max must not be below min")
        return self


class Simulate(Strict):
    """The offline simulator's outcome rates and timings for this campaign."""

    answer: float = Field(0.45, ge=0, le=1, description="Share of dials answered by a person.")
    busy: float = Field(0.08, ge=0, le=1, description="Share that are busy.")
    no_answer: float = Field(0.27, ge=0, le=1, description="Share that ring out.")
    voicemail: float = Field(0.15, ge=0, le=1, description="Share that reach voicemail.")
    failed: float = Field(0.05, ge=0, le=1, description="Share that fail (network, trunk).")
    ring_time: Spread = Field(
        default_factory=lambda: Spread(min=timedelta(seconds=3), max=timedelta(seconds=25)),
        description="Time to answer or give up.",
    )
    talk_time: Spread = Field(
        default_factory=lambda: Spread(min=timedelta(seconds=20), max=timedelta(minutes=4)),
        description="Conversation length once answered.",
    )
    dispositions: dict[str, float] = Field(
        default_factory=dict,
        description="Relative weights of dispositions for answered calls (default: equal).",
    )

    @model_validator(mode="after")
    def _rates(self) -> Simulate:
        total = self.answer + self.busy + self.no_answer + self.voicemail + self.failed
        if total <= 0:
            raise ValueError("at least one of the outcome rates must be above 0")
        return self


AGENT_TOOLS = (
    "record_disposition",
    "schedule_callback",
    "opt_out",
    "transfer_to_human",
    "detected_voicemail",
    "end_call",
)
_EXPECT_KINDS = (
    "tool",
    "no_tool",
    "reply",
    "not_reply",
    "ends_call",
    "opening_contains",
    "disclosure",
    "judge",
)


class Expectation(Strict):
    """One check of a conversation scenario: exactly one of the keys below (`args` goes with
    `tool`). In a turn it checks that turn's answer; in the scenario, the whole conversation."""

    tool: Literal[AGENT_TOOLS] | None = Field(  # type: ignore[valid-type]
        None, description="The agent calls this tool."
    )
    args: dict[str, Any] | None = Field(
        None, description="With `tool`: arguments it is called with (these keys; others may vary)."
    )
    no_tool: Literal[AGENT_TOOLS] | None = Field(  # type: ignore[valid-type]
        None, description="The agent does not call this tool."
    )
    reply: str | None = Field(
        None, description="A reply of the agent matches this regular expression (searched)."
    )
    not_reply: str | None = Field(
        None, description="No reply of the agent matches this regular expression."
    )
    ends_call: bool | None = Field(
        None, description="true: the agent ends the call; false: the call goes on."
    )
    opening_contains: str | None = Field(
        None, description="Scenario level: the opening says this (case-insensitive)."
    )
    disclosure: bool | None = Field(
        None,
        description="Scenario level: the opening carries the recording disclosure "
        "(recording.disclosure_pattern).",
    )
    judge: str | None = Field(
        None,
        description="An intent a model judges: the turn's reply (or, for the scenario, some "
        "reply) fulfils it, e.g. 'offers a demo'. Needs a real model.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Expectation:
        given = [k for k in _EXPECT_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            has = f" (this one has {', '.join(given)})" if given else ""
            raise ValueError(f"an expectation has exactly one of: {', '.join(_EXPECT_KINDS)}{has}")
        if self.args is not None and self.tool is None:
            raise ValueError("args goes with tool")
        for key in ("reply", "not_reply"):
            pattern = getattr(self, key)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{key}: not a valid regular expression: {exc}") from None
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _EXPECT_KINDS if getattr(self, k) is not None)


class ScenarioTurn(Strict):
    """What the person says, and what the agent's answer to it must do."""

    user: str = Field(min_length=1, description="The person's words.")
    expect: list[Expectation] = Field(default_factory=list, description="Checks of this turn.")

    @field_validator("expect")
    @classmethod
    def _turn_level(cls, v: list[Expectation]) -> list[Expectation]:
        for e in v:
            if e.kind in ("opening_contains", "disclosure"):
                raise ValueError(f"{e.kind} checks the opening: put it in the scenario's expect")
        return v


class Scenario(Strict):
    """A scripted conversation with the agent, run by `dialer test`."""

    name: str = Field(min_length=1, description="Shown in the test report.")
    lead: int | dict[str, Any] = Field(
        1, description="1-based row of the lead source, or the lead's fields inline."
    )
    variant: str | None = Field(None, description="The variant to test; default: the lead's.")
    turns: list[str | ScenarioTurn] = Field(
        default_factory=list, description="The person's turns, in order (text, or user+expect)."
    )
    expect: list[Expectation] = Field(
        default_factory=list, description="Checks of the whole conversation."
    )

    @field_validator("lead")
    @classmethod
    def _row(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 1:
            raise ValueError(f"lead is a 1-based row, got {v}")
        return v


class ScenarioFile(Strict):
    """`campaigns/NAME.tests.yaml`: scenarios kept beside campaign NAME."""

    tests: list[Scenario] = Field(description="The scenarios.")


class Campaign(Strict):
    """One outbound campaign: who to call, what the agent says, how fast, and what counts."""

    name: str = Field(min_length=1, description="Unique campaign name, shown everywhere.")
    description: str | None = Field(None, description="What the campaign is for.")
    leads: Leads = Field(description="The lead query.")
    suppress: list[str] = Field(
        default_factory=list,
        description="Suppression lists (files of numbers) applied on top of the dnc table.",
    )
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Values the templates read as `vars.NAME`."
    )
    agent: Agent = Field(description="The voice agent.")
    variants: list[Variant] = Field(default_factory=list, description="Optional A/B variants.")
    pacing: Pacing = Field(default_factory=Pacing, description="Pacing and retries.")
    dispositions: list[Disposition] = Field(
        default_factory=lambda: [Disposition(name=n) for n in DEFAULT_DISPOSITIONS],
        description="Results the agent may record; `do_not_call` is required.",
    )
    telephony: Telephony = Field(default_factory=Telephony, description="SIP trunk and numbers.")
    recording: Recording = Field(default_factory=Recording, description="Recording settings.")
    simulate: Simulate = Field(default_factory=Simulate, description="Simulator settings.")
    tests: list[Scenario] = Field(
        default_factory=list,
        description="Conversation scenarios for `dialer test` (or keep them in NAME.tests.yaml).",
    )

    @field_validator("dispositions", mode="before")
    @classmethod
    def _names_as_dispositions(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": x} if isinstance(x, str) else x for x in v]
        return v

    @field_validator("dispositions")
    @classmethod
    def _unique_dispositions(cls, v: list[Disposition]) -> list[Disposition]:
        seen: set[str] = set()
        for d in v:
            if d.name in seen:
                raise ValueError(f"disposition {d.name!r} is listed twice")
            seen.add(d.name)
        return v

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, v: list[Variant]) -> list[Variant]:
        names = [x.name for x in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variant names must be unique, {dupes[0]!r} repeats")
        return v

    @property
    def disposition_names(self) -> list[str]:
        return [d.name for d in self.dispositions]

    @property
    def conversions(self) -> list[str]:
        marked = [d.name for d in self.dispositions if d.conversion]
        return marked or [n for n in ("meeting_booked",) if n in self.disposition_names]


def json_schema(tests: bool = False) -> dict[str, Any]:
    """The JSON Schema editors use to check campaign files (or, `tests`, scenario files)."""
    schema = (ScenarioFile if tests else Campaign).model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dialer scenarios" if tests else "dialer campaign"
    return schema
