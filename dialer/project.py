"""Project-wide rules from `dialer.yaml` that every campaign obeys and none can widen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dialer.campaign.schema import DAY_NAMES, ClockTime, Duration, Window
from dialer.errors import DialerError, Location
from dialer.schedule.window import CallingWindow

PROJECT_FILE = "dialer.yaml"
QUIET_START, QUIET_END = time(8, 0), time(21, 0)


class QuietHours(BaseModel):
    """Calls only between start and end, lead-local, on every day."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: ClockTime = Field(QUIET_START, description="Earliest local time to call.")
    end: ClockTime = Field(QUIET_END, description="Latest local time to call (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> QuietHours:
        if self.end <= self.start:
            raise ValueError("quiet_hours.end must be after start")
        return self


class FrequencyCap(BaseModel):
    """At most `attempts` dials to one phone number in any `per` span, across all campaigns."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    attempts: int = Field(3, ge=1, description="Dials allowed in the span.")
    per: Duration = Field(timedelta(days=7), description="The span, e.g. 7d.")


class ProjectRules(BaseModel):
    """The contents of dialer.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    quiet_hours: QuietHours = Field(default_factory=QuietHours, description="Lead-local hours.")
    frequency_cap: FrequencyCap | None = Field(None, description="Per-phone cap, all campaigns.")


@dataclass(frozen=True)
class Rules:
    """Project rules plus where they came from."""

    rules: ProjectRules
    path: Path | None

    def effective_window(self, window: Window) -> CallingWindow | None:
        """The campaign window clipped to quiet hours (None when nothing is left)."""
        days = frozenset(DAY_NAMES.index(d) for d in window.days)
        campaign = CallingWindow(days, window.start, window.end)
        quiet = CallingWindow(
            frozenset(range(7)), self.rules.quiet_hours.start, self.rules.quiet_hours.end
        )
        return campaign.intersect(quiet)


def load_rules(root: Path) -> Rules:
    """Read `dialer.yaml` at the project root; defaults when there is none."""
    path = root / PROJECT_FILE
    if not path.exists():
        return Rules(ProjectRules(), None)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise DialerError(
            f"invalid YAML: {exc.problem}",
            Location(str(path), mark.line + 1 if mark else None, mark.column + 1 if mark else None),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DialerError(f"can not read project rules: {exc}", Location(str(path))) from None
    try:
        return Rules(ProjectRules.model_validate(data), path)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"])
        raise DialerError(err["msg"], Location(str(path)), field=field) from None
