"""Loading campaign files: schema, YAML errors with lines, env interpolation, secrets."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dialer.campaign.load import load_campaign
from dialer.campaign.schema import format_duration, json_schema, parse_duration
from dialer.errors import CampaignInvalid, DialerError

from .conftest import MINIMAL, REPO, write_campaign


def errors_of(path, env=None) -> list[str]:
    with pytest.raises(DialerError) as info:
        load_campaign(path, env=env or {})
    exc = info.value
    return [e.format() for e in (exc.errors if isinstance(exc, CampaignInvalid) else [exc])]


def test_minimal_campaign_gets_defaults(project):
    loaded = load_campaign(write_campaign(project, MINIMAL), env={})
    c = loaded.campaign
    assert c.pacing.max_attempts == 3
    assert c.pacing.retry["busy"] == timedelta(minutes=20)
    assert c.agent.voice == "Leda" and c.agent.temperature == 0.2
    assert "do_not_call" in c.disposition_names
    assert len(loaded.revision) == 12


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("20m", 1200), ("4h", 14400), ("1d", 86400), (45, 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


def test_unknown_keys_get_did_you_mean_with_line(project):
    text = (
        MINIMAL.replace("agent:\n", "agent:\n  tempreature: 0.5\n")
        + "pacing:\n  max_concurent: 3\n"
    )
    errs = errors_of(write_campaign(project, text))
    assert any(
        ":5:3: agent.tempreature: unknown key" in e and "did you mean 'temperature'" in e
        for e in errs
    ), errs
    assert any("pacing.max_concurent" in e and "did you mean 'max_concurrent'" in e for e in errs)


def test_all_errors_of_a_file_in_one_pass(project):
    text = MINIMAL + (
        "pacing:\n"
        "  max_concurrent: 0\n"
        '  window: {start: "9am", end: "17:00"}\n'
        "  retry: {busy: soon}\n"
    )
    errs = errors_of(write_campaign(project, text))
    assert len(errs) == 3, errs
    assert any(
        e.endswith("pacing.max_concurrent: input should be greater than or equal to 1, got 0")
        and ":8:" in e
        for e in errs
    ), errs
    assert any("pacing.window.start: expected HH:MM, got '9am'" in e and ":9:" in e for e in errs)
    assert any("pacing.retry.busy: expected a duration like 90s" in e for e in errs)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: [unclosed\n", ":2:1: invalid YAML"),
        ("a: 1\n  b: 2\n", ":2:4: invalid YAML: mapping values are not allowed here"),
        ("", ":1:1: campaign file is empty"),
        ("name: X\n  \x01\n", ":2:3: invalid YAML: character #x0001 is not allowed"),
        ("- a\n- b\n", ":1:1: expected a mapping of campaign settings, got list"),
        (MINIMAL + "name: Again\n", ":7:1: duplicate key 'name' (first on line 1)"),
        (MINIMAL.replace("name: Minimal\n", ""), "'name' is required"),
        (
            MINIMAL.replace('  opening: "Hi {{ lead.prospect_name }}."\n', ""),
            "agent: opening (or opening_file) is required",
        ),
        (
            MINIMAL + "pacing:\n  max_attempts: many\n",
            "pacing.max_attempts: input should be a valid integer",
        ),
    ],
)
def test_bad_yaml_is_one_clear_line(project, content, expected):
    errs = errors_of(write_campaign(project, content))
    assert any(expected in e for e in errs), errs
    assert all(e.startswith(str(project / "campaigns" / "c.yaml")) for e in errs)


def test_misencoded_file_names_the_line(project):
    path = project / "campaigns" / "c.yaml"
    path.write_bytes(b"name: ok\nleads: \xff\xfe\n")
    assert errors_of(path) == [
        f"{path}:2: campaign file is not valid UTF-8 (hint: save it as UTF-8)"
    ]


def test_missing_campaign_file(project):
    assert errors_of(project / "campaigns" / "nope.yaml")[0].endswith("campaign file not found")


def test_env_interpolation_and_defaults(project):
    text = MINIMAL + "telephony:\n  sip_trunk_id: ${TRUNK}\n  caller_id: ${CALLER:-+15550100123}\n"
    loaded = load_campaign(write_campaign(project, text), env={"TRUNK": "ST_abc"})
    assert loaded.campaign.telephony.sip_trunk_id == "ST_abc"
    assert loaded.campaign.telephony.caller_id == "+15550100123"
    errs = errors_of(write_campaign(project, text))
    assert errs == [
        f"{project}/campaigns/c.yaml:8:17: telephony.sip_trunk_id: environment variable TRUNK is "
        "not set (hint: set it in the environment or .env, or write ${TRUNK:-default})"
    ]


def test_dotenv_at_project_root_is_read(project, monkeypatch):
    (project / ".env").write_text("export TRUNK='ST_from_dotenv'\n# comment\n")
    text = MINIMAL + "telephony:\n  sip_trunk_id: ${TRUNK}\n"
    monkeypatch.delenv("TRUNK", raising=False)
    loaded = load_campaign(write_campaign(project, text))
    assert loaded.campaign.telephony.sip_trunk_id == "ST_from_dotenv"
    monkeypatch.setenv("TRUNK", "ST_env_wins")
    assert (
        load_campaign(write_campaign(project, text)).campaign.telephony.sip_trunk_id
        == "ST_env_wins"
    )


@pytest.mark.parametrize(
    "line",
    [
        "vars:\n  api_key: abcdef123",
        "vars:\n  google: AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "vars:\n  auth: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk",
    ],
)
def test_literal_secrets_are_refused(project, line):
    errs = errors_of(write_campaign(project, MINIMAL + line + "\n"))
    assert len(errs) == 1 and "written literally in the campaign file" in errs[0]
    assert ":8:" in errs[0]


def test_secret_from_env_is_fine(project):
    text = MINIMAL + "vars:\n  api_key: ${SOME_KEY:-}\n"
    assert load_campaign(write_campaign(project, text), env={}).campaign.vars["api_key"] == ""


def test_prompt_files_are_part_of_the_revision(project):
    (project / "campaigns" / "agent.md").write_text("You are {{ lead.resource_name }}.\n")
    text = MINIMAL.replace(
        '  instructions: "You are {{ lead.resource_name }}."', "  instructions_file: agent.md"
    )
    path = write_campaign(project, text)
    first = load_campaign(path, env={}).revision
    (project / "campaigns" / "agent.md").write_text("You are {{ lead.resource_name }}!\n")
    assert load_campaign(path, env={}).revision != first
    (project / "campaigns" / "agent.md").unlink()
    errs = errors_of(path)
    assert "prompt file not found: agent.md" in errs[0] and ":5:" in errs[0]


def test_both_inline_and_file_is_an_error(project):
    text = MINIMAL.replace("  opening:", "  opening_file: x.md\n  opening:")
    assert any(
        "give either opening or opening_file" in e for e in errors_of(write_campaign(project, text))
    )


def test_window_must_be_ordered_and_caller_id_e164(project):
    text = (
        MINIMAL
        + "pacing:\n  window: {start: '18:00', end: '09:00'}\ntelephony:\n  caller_id: '555'\n"
    )
    errs = errors_of(write_campaign(project, text))
    assert any("end must be after start" in e for e in errs)
    assert any("telephony.caller_id: expected an E.164 number" in e for e in errs)


def test_shipped_schema_file_is_current():
    shipped = json.loads((REPO / "campaigns" / "campaign.schema.json").read_text())
    assert shipped == json.loads(json.dumps(json_schema())), (
        "run: dialer schema > campaigns/campaign.schema.json"
    )


def test_shipped_scenario_schema_file_is_current():
    shipped = json.loads((REPO / "campaigns" / "tests.schema.json").read_text())
    assert shipped == json.loads(json.dumps(json_schema(tests=True))), (
        "run: dialer schema --tests > campaigns/tests.schema.json"
    )


def test_example_campaigns_carry_the_modeline():
    for path in sorted((REPO / "campaigns").glob("*.yaml")):
        schema = (
            "tests.schema.json" if path.name.endswith(".tests.yaml") else "campaign.schema.json"
        )
        assert path.read_text().startswith(f"# yaml-language-server: $schema={schema}"), path
