"""Render a campaign's prompts for one lead, as the agent would receive them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dialer.campaign.load import LoadedCampaign
from dialer.campaign.templates import Prompts, Rendered
from dialer.errors import DialerError
from dialer.leads import fetch_leads, find_lead_row, select_leads

STAGE_WORDS = {
    "selected": "selected",
    "invalid_phone": "not callable: invalid phone number",
    "duplicate": "not callable: duplicate phone number",
    "suppressed": "not callable: on a suppression list",
    "no_timezone": "not callable: no timezone known",
    "over_limit": "not callable: beyond leads.limit",
}


@dataclass
class RenderResult:
    """A lead, where it stands in the selection, and its rendered prompts per variant."""

    campaign: str
    revision: str
    lead: dict
    stage: str
    assigned_variant: str | None
    rendered: list[Rendered]

    def to_dict(self) -> dict:
        lead = {
            k: (v if isinstance(v, str | int | float | list) or v is None else str(v))
            for k, v in self.lead.items()
            if not k.startswith("__")
        }
        return {
            "campaign": self.campaign,
            "revision": self.revision,
            "lead": lead,
            "stage": self.stage,
            "assigned_variant": self.assigned_variant,
            "rendered": [asdict(r) for r in self.rendered],
        }


def find_lead(
    loaded: LoadedCampaign,
    row: int | None = None,
    phone: str | None = None,
    run_log: Path | None = None,
) -> tuple[dict, str]:
    """The lead at source row `row` (1-based, as the legacy LEAD_INDEX) or with `phone`."""
    selection = select_leads(loaded, run_log)
    try:
        found, _, _ = find_lead_row(selection.con, loaded, row, phone, selection.source_rows)
        leads = fetch_leads(selection, f"__row = {int(found)}", limit=1)
        lead = leads[0]
        return lead, lead.pop("__stage")
    finally:
        selection.con.close()


def render_lead(
    loaded: LoadedCampaign,
    row: int | None = None,
    phone: str | None = None,
    variant: str | None = None,
    at: datetime | None = None,
    run_log: Path | None = None,
    prompts: Prompts | None = None,
) -> RenderResult:
    """Render the lead's prompts for every variant (or just `variant`), at `at` lead-local."""
    prompts = prompts or Prompts(loaded)
    lead, stage = find_lead(loaded, row, phone, run_log)
    names = prompts.variant_names
    if variant is not None:
        if variant not in names:
            raise DialerError(
                f"no variant {variant!r}; the campaign has: {', '.join(map(str, names))}"
            )
        names = [variant]
    at = at or datetime.now(UTC)
    zone = ZoneInfo(lead["timezone"]) if lead.get("timezone") else UTC
    now = at.astimezone(zone)
    rendered = [prompts.render(lead, now, v) for v in names]
    return RenderResult(
        campaign=loaded.campaign.name,
        revision=loaded.revision,
        lead=lead,
        stage=stage,
        assigned_variant=prompts.choose_variant(lead["key"]) if lead.get("key") else None,
        rendered=rendered,
    )
