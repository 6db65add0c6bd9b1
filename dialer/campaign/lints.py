"""Compliance lints: rules a campaign follows beyond its schema (window, disclosure, opt-out)."""

from __future__ import annotations

import re
from datetime import time

from dialer.campaign.load import LoadedCampaign
from dialer.errors import DialerError, Location

QUIET_START, QUIET_END = time(8, 0), time(21, 0)


def lint_campaign(loaded: LoadedCampaign) -> list[DialerError]:
    """Every compliance problem in a loaded campaign (its templates' text included)."""
    c = loaded.campaign
    errors: list[DialerError] = []
    window = c.pacing.window
    if (window.start < QUIET_START or window.end > QUIET_END) and not window.override_reason:
        errors.append(
            DialerError(
                f"calling window {window.start:%H:%M}-{window.end:%H:%M} leaves the "
                "08:00-21:00 lead-local hours allowed for calls",
                loaded.locate(("pacing", "window")),
                "narrow it, or set pacing.window.override_reason to say why it is lawful",
                field="pacing.window",
            )
        )
    if "do_not_call" not in c.disposition_names:
        errors.append(
            DialerError(
                "a do_not_call disposition is required so people can opt out",
                loaded.locate(("dispositions",)),
                "add do_not_call to dispositions",
                field="dispositions",
            )
        )
    if c.recording.enabled:
        try:
            pattern = re.compile(c.recording.disclosure_pattern, re.I)
        except re.error as exc:
            errors.append(
                DialerError(
                    f"disclosure_pattern is not a valid regex: {exc}",
                    loaded.locate(("recording", "disclosure_pattern")),
                    field="recording.disclosure_pattern",
                )
            )
            pattern = None
        for label, source in loaded.templates.items():
            if pattern is None or not label.endswith(".opening"):
                continue
            if not pattern.search(source.text):
                key = ("agent", "opening") if label.startswith("agent.") else ("variants",)
                errors.append(
                    DialerError(
                        "recording is on, so the opening must tell the callee the call is recorded",
                        loaded.locate(key)
                        if source.path == str(loaded.path)
                        else Location(source.path, 1),
                        f"say e.g. 'this call may be recorded' (matching /{pattern.pattern}/i)",
                        field=label,
                    )
                )
    unknown = sorted(set(c.simulate.dispositions) - set(c.disposition_names))
    for name in unknown:
        errors.append(
            DialerError(
                f"simulate.dispositions names {name!r}, which is not a disposition",
                loaded.locate(("simulate", "dispositions", name)),
                field="simulate.dispositions",
            )
        )
    if "callback" in c.pacing.retry and "callback" not in c.disposition_names:
        errors.append(
            DialerError(
                "pacing.retry.callback is set but there is no callback disposition",
                loaded.locate(("pacing", "retry", "callback")),
                field="pacing.retry.callback",
            )
        )
    return errors
