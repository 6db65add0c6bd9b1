"""Prompt templates: sandboxed Jinja, strict variables with lines, legacy placeholders, variants."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from dialer.campaign.load import load_campaign
from dialer.campaign.templates import Prompts, legacy_to_jinja
from dialer.errors import CampaignInvalid, DialerError

from .conftest import MINIMAL, write_campaign

LEAD = {
    "prospect_name": "Ann Lee",
    "company_name": "Acme",
    "job_title": "CTO",
    "resource_name": "Sam",
    "email": "ann@acme.example",
    "phone": "+12015550123",
    "timezone": "America/New_York",
    "row": 4,
}
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def prompts_for(project, text):
    return Prompts(load_campaign(write_campaign(project, text), env={}))


def test_legacy_placeholders_keep_working(project):
    text = MINIMAL.replace(
        'instructions: "You are {{ lead.resource_name }}."',
        'instructions: "I am [Resource Name]; you are [Prospect Name], [Job Title] at '
        '[Company Name]; mail [____@abc.com]."',
    )
    r = prompts_for(project, text).render(LEAD, NOW)
    assert r.instructions.startswith(
        "I am Sam; you are Ann Lee, CTO at Acme; mail ann@acme.example."
    )
    assert legacy_to_jinja("a\n[Prospect Name]\nb").count("\n") == 2


def test_lead_context_block_is_appended(project):
    r = prompts_for(project, MINIMAL).render(LEAD, NOW.astimezone())
    assert "## Lead Context" in r.instructions
    for line in (
        "- Prospect Name: Ann Lee",
        "- Company Name: Acme",
        "- Job Title: CTO",
        "- Email: ann@acme.example",
        "- Phone: +12015550123",
        "- Timezone: America/New_York",
        "- Resource Name: Sam",
    ):
        assert line in r.instructions
    off = prompts_for(project, MINIMAL.replace("agent:\n", "agent:\n  lead_context: false\n"))
    assert "Lead Context" not in off.render(LEAD, NOW).instructions


def test_variables_lead_vars_campaign_now(project):
    text = (
        MINIMAL.replace(
            '"Hi {{ lead.prospect_name }}."',
            "\"{{ campaign.name }} {{ vars.offer }} {{ now.strftime('%H:%M') }} "
            "{{ lead['job_title'] }}\"",
        )
        + "vars: {offer: a demo}\n"
    )
    from zoneinfo import ZoneInfo

    r = prompts_for(project, text).render(LEAD, NOW.astimezone(ZoneInfo("America/New_York")))
    assert r.opening == "Minimal a demo 10:00 CTO"


def test_undefined_variable_names_variable_template_line_and_row(project):
    text = MINIMAL.replace(
        'instructions: "You are {{ lead.resource_name }}."',
        "instructions: |\n    line one\n    hello {{ lead.nickname }}",
    )
    p = prompts_for(project, text)
    with pytest.raises(DialerError) as info:
        p.render(LEAD, NOW)
    msg = info.value.format()
    assert (
        ":7: agent.instructions: lead.nickname is undefined (no such lead column) (lead row 4)"
        in msg
    )


def test_syntax_error_points_at_file_line(project):
    text = MINIMAL.replace(
        'instructions: "You are {{ lead.resource_name }}."',
        "instructions: |\n    ok\n    {% if lead.x %}\n    never closed",
    )
    with pytest.raises(CampaignInvalid) as info:
        prompts_for(project, text)
    assert (
        ":8: agent.instructions: template syntax error" in info.value.format()
        or ":9: agent.instructions: template syntax error" in info.value.format()
    )


def test_sandbox_blocks_python_internals(project):
    text = MINIMAL.replace('"Hi {{ lead.prospect_name }}."', '"{{ lead.__class__.__mro__ }}"')
    with pytest.raises(DialerError) as info:
        prompts_for(project, text).render(LEAD, NOW)
    assert "agent.opening" in info.value.format()


def test_templates_compile_once_per_revision(project, monkeypatch):
    from jinja2.sandbox import SandboxedEnvironment

    calls = Counter()
    original = SandboxedEnvironment.compile

    def counting(self, *a, **k):
        calls["compile"] += 1
        return original(self, *a, **k)

    monkeypatch.setattr(SandboxedEnvironment, "compile", counting)
    p = prompts_for(project, MINIMAL)
    compiled = calls["compile"]
    for i in range(50):
        p.render({**LEAD, "row": i}, NOW)
    assert calls["compile"] == compiled == 2


VARIANTS = (
    MINIMAL
    + """\
variants:
  - {name: a, weight: 3}
  - {name: b, weight: 1, opening: "Hey {{ lead.prospect_name }}!", voice: Puck}
"""
)


def test_variants_override_and_are_deterministic_by_weight(project):
    p = prompts_for(project, VARIANTS)
    assert p.render(LEAD, NOW, "b").opening == "Hey Ann Lee!"
    assert p.render(LEAD, NOW, "b").voice == "Puck"
    assert p.render(LEAD, NOW, "a").opening == "Hi Ann Lee."
    picks = Counter(p.choose_variant(f"+1201555{i:04d}") for i in range(4000))
    assert picks["a"] + picks["b"] == 4000
    assert 0.70 < picks["a"] / 4000 < 0.80
    again = prompts_for(project, VARIANTS)
    assert all(p.choose_variant(f"k{i}") == again.choose_variant(f"k{i}") for i in range(200))


def test_duplicate_variant_names_rejected(project):
    text = MINIMAL + "variants:\n  - {name: a}\n  - {name: a}\n"
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(write_campaign(project, text), env={})
    assert "variant names must be unique" in info.value.format()
