"""`dialer import-legacy`: legacy campaigns.json + Python prompt modules -> campaign files that
validate and render, read without running any legacy code; the legacy selectors still choose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.errors import DialerError
from dialer.import_legacy import escape_jinja, legacy_campaign, read_constants, read_legacy

from .conftest import cli, run_dialer

AGENT = "ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS"
SESSION = "SESSION_INSTRUCTION"

LEADS = """\
prospect_name,company_name,job_title,phone,email,timezone,resource_name
Avery Johnson,Northwind Analytics,VP Engineering,+12015550123,avery@nw.example,America/New_York,Sam
Blake Rivera,Contoso Cloud,Head of IT,(212) 555-0199,blake@contoso.example,America/New_York,Sam
Casey Nguyen,Fabrikam,CTO,+1 312-555-0142,casey@fabrikam.example,America/Chicago,Robin
"""

# the default module, as the legacy repository wrote it: triple-quoted, with text Jinja would
# take for its own syntax
PROMPTS = '''\
# Default campaign prompts
ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = """
# Demandify Caller
You are [Resource Name] from Demandify, calling [Prospect Name], [Job Title] at [Company Name].
Confirm the e-mail [____@abc.com] before booking.
Never read template code aloud: {{ lead.phone }}, {% if x %}, {# note #} and {{{ stay as they are.
"""

SESSION_INSTRUCTION = (
    "Hi [Prospect Name], this is [Resource Name] from Demandify. "
    "This call may be recorded. Do you have a minute?"
)
'''

# a module that would leave a trace and stop if anything ran it
PROMPTS2 = """\
import pathlib
import textwrap
pathlib.Path({marker!r}).write_text("the legacy module was executed")
raise SystemExit("imported")

BASE = "You are [Resource Name], calling for SplashBI. "
ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = BASE + "Ask [Prospect Name] about Oracle reporting."
SESSION_INSTRUCTION = f"Hello [Prospect Name], [Resource Name] from SplashBI; call recorded."
SHORT_SESSION = textwrap.dedent('''
    Hi [Prospect Name], it is [Resource Name] from SplashBI.
''')
"""

PROMPTS3_FSTRING = """\
name = "KonfHub"
ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = "You sell KonfHub."
SESSION_INSTRUCTION = f"Hi, this is {name} calling."
"""

PROMPTS4_SYNTAX = """\
ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = "unterminated
SESSION_INSTRUCTION = "Hi"
"""

# the shape the legacy dashboard's generator wrote for custom campaigns
GOOGLE = """\
# Auto-generated campaign prompt module
ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = '''
You are [Resource Name] on the Google Cloud partner programme, talking to [Prospect Name].
'''.strip()

SESSION_INSTRUCTION = '''
Hello [Prospect Name], [Resource Name] here on behalf of Google Cloud.
'''.strip()
"""

AGENT_PY = """\
from dotenv import load_dotenv
from livekit import agents
from livekit.plugins import google
from prompts import ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS, SESSION_INSTRUCTION

CAMPAIGNS = {
    # name: (module, agent_attr, session_attr)
    "Default (prompts)": (
        "prompts", "ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS", "SESSION_INSTRUCTION"
    ),
    "SplashBI (prompts2)": ("prompts2", "ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS", "SHORT_SESSION"),
    "KonfHub (prompts3)": ["prompts3", "ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS"],
}


class Assistant:
    def __init__(self, text):
        self.llm = google.beta.realtime.RealtimeModel(voice="Puck", temperature=0.5)
"""

CAMPAIGNS_JSON = [
    {"name": "Google", "module": "google"},
    {"name": "Broken", "module": "prompts4"},
    {
        "name": "Acme demo",
        "module": "acme_demo",
        "agent_text": "You are [Resource Name] from Acme.",
        "session_text": "Hi [Prospect Name], Acme here. This call may be recorded.",
    },
]


def build_legacy(root: Path, marker: Path) -> Path:
    """A legacy Agentic Dialer checkout: agent.py, prompt modules, campaigns.json, leads.csv."""
    files = {
        "agent.py": AGENT_PY,
        "prompts.py": PROMPTS,
        "prompts2.py": PROMPTS2.format(marker=str(marker)),
        "prompts3.py": PROMPTS3_FSTRING,
        "prompts4.py": PROMPTS4_SYNTAX,
        "backend/campaigns_prompts/google.py": GOOGLE,
        "campaigns.json": json.dumps(CAMPAIGNS_JSON, indent=2),
        "leads.csv": LEADS,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def legacy(project, tmp_path) -> Path:
    return build_legacy(tmp_path / "legacy", tmp_path / "EXECUTED")


def render(campaign: str, lead: int = 1) -> dict:
    res = cli("render", campaign, "--lead", str(lead), "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)["rendered"][0]


def test_import_writes_campaigns_that_validate_and_render(project, legacy, tmp_path):
    res = cli("import-legacy", "legacy")
    assert res.exit_code == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[0].startswith("copied   leads/leads.csv")
    wrote = sorted(line.split()[1] for line in out if line.startswith("wrote    campaigns/"))
    assert wrote == [
        "campaigns/.legacy.json",
        "campaigns/acme_demo.yaml",
        "campaigns/google.yaml",
        "campaigns/prompts.yaml",
        "campaigns/prompts2.yaml",
        "campaigns/prompts2_short_session.yaml",
    ]
    # what could not be read: one line each, file:line, no traceback
    assert "legacy/prompts3.py:3:1: SESSION_INSTRUCTION is an f-string" in res.stderr
    assert "legacy/prompts4.py:1:" in res.stderr and "syntax error" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().endswith("5 campaign(s) written, 0 skipped, 2 problem(s)")
    assert not (tmp_path / "EXECUTED").exists(), "a legacy module was executed"

    # the layout of the shipped ports: prompt files beside the campaign, modeline, provenance
    text = (project / "campaigns" / "prompts.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=campaign.schema.json\n")
    assert "# legacy source: prompts.py ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS" in text
    assert 'instructions_file: "prompts/prompts_agent.md"' in text
    assert 'suppress: ["../leads/dnc.csv"]' in text
    assert 'voice: "Puck"' in text and "temperature: 0.5" in text  # from agent.py
    assert "recording: {enabled: true}" in text  # the opening discloses it
    google = (project / "campaigns" / "google.yaml").read_text()
    assert "recording: {enabled: false}" in google  # no disclosure: recording stays off
    assert (project / "leads" / "leads.csv").read_text() == LEADS

    res = cli("validate")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.count("ok    ") == 6  # the five imported and the example

    default = render("campaigns/prompts.yaml")
    assert default["opening"] == (
        "Hi Avery Johnson, this is Sam from Demandify. This call may be recorded. "
        "Do you have a minute?"
    )
    instructions = default["instructions"]
    assert "calling Avery Johnson, VP Engineering at Northwind Analytics." in instructions
    assert "Confirm the e-mail avery@nw.example before booking." in instructions
    assert "{{ lead.phone }}, {% if x %}, {# note #} and {{{ stay as they are." in instructions
    assert "[" not in instructions.split("## Lead Context")[0].replace("# Demandify", "")
    splash = render("campaigns/prompts2_short_session.yaml", lead=3)
    assert splash["opening"] == "Hi Casey Nguyen, it is Robin from SplashBI."
    assert render("campaigns/prompts2.yaml")["opening"].startswith("Hello Avery Johnson, Sam")
    assert render("campaigns/google.yaml", 2)["opening"] == (
        "Hello Blake Rivera, Sam here on behalf of Google Cloud."
    )
    acme = render("campaigns/acme_demo.yaml")  # texts kept inline in campaigns.json
    assert acme["instructions"].startswith("You are Sam from Acme.")


def test_names_and_mapping_follow_the_legacy_registries(project, legacy):
    assert cli("import-legacy", "legacy").exit_code == 0
    mapping = json.loads((project / "campaigns" / ".legacy.json").read_text())
    assert mapping["default"] == "prompts.yaml"
    by_file = {e["file"]: e for e in mapping["campaigns"]}
    google = by_file["google.yaml"]
    assert google["module"] == "backend.campaigns_prompts.google"
    assert {"campaigns_prompts.google", "google"} <= set(google["aliases"])
    assert google["custom"] is True and google["names"] == ["Google"]
    short = by_file["prompts2_short_session.yaml"]
    assert (short["module"], short["agent_name"], short["session_name"]) == (
        "prompts2",
        AGENT,
        "SHORT_SESSION",
    )
    assert short["names"] == ["SplashBI (prompts2)", "SplashBI"] and short["custom"] is False
    assert 'name: "SplashBI"' in (project / "campaigns" / "prompts2_short_session.yaml").read_text()
    assert 'name: "Default"' in (project / "campaigns" / "prompts.yaml").read_text()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"CAMPAIGN_PROMPT_MODULE": "prompts"}, "prompts.yaml"),
        ({"CAMPAIGN_AGENT_NAME": AGENT}, "prompts.yaml"),  # the legacy default module
        ({"CAMPAIGN_PROMPT_MODULE": "backend.campaigns_prompts.google"}, "google.yaml"),
        ({"CAMPAIGN_PROMPT_MODULE": "campaigns_prompts.google"}, "google.yaml"),
        ({"CAMPAIGN_PROMPT_MODULE": "google"}, "google.yaml"),
        ({"CAMPAIGN_PROMPT_MODULE": "backend/campaigns_prompts/google.py"}, "google.yaml"),
        (
            {
                "CAMPAIGN_PROMPT_MODULE": "prompts2",
                "CAMPAIGN_AGENT_NAME": AGENT,
                "CAMPAIGN_SESSION_NAME": "SHORT_SESSION",
            },
            "prompts2_short_session.yaml",
        ),
        ({"CAMPAIGN_PROMPT_MODULE": "prompts2", "CAMPAIGN_SESSION_NAME": ""}, "prompts2.yaml"),
    ],
)
def test_legacy_selectors_resolve_to_the_imported_files(project, legacy, env, expected):
    assert cli("import-legacy", "legacy").exit_code == 0
    found = legacy_campaign(project / "campaigns", env)
    assert found == (None if expected is None else project / "campaigns" / expected)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CAMPAIGN_PROMPT_MODULE": "promts"}, "no legacy campaign from that module was imported"),
        ({"CAMPAIGN_PROMPT_MODULE": "prompts3"}, "prompts3: no legacy campaign"),  # f-string
        ({"CAMPAIGN_PROMPT_MODULE": "prompts", "CAMPAIGN_AGENT_NAME": "OTHER"}, "CAMPAIGN_AGENT"),
    ],
)
def test_legacy_selectors_naming_nothing_imported_are_clear_errors(project, legacy, env, message):
    assert cli("import-legacy", "legacy").exit_code == 0
    with pytest.raises(DialerError) as err:
        legacy_campaign(project / "campaigns", env)
    assert message in err.value.message
    assert err.value.location.path.endswith(".legacy.json")
    if env["CAMPAIGN_PROMPT_MODULE"] == "promts":
        assert err.value.hint == "did you mean prompts?"


def test_selector_without_an_import(project):
    with pytest.raises(DialerError, match="none was imported here"):
        legacy_campaign(project / "campaigns", {"CAMPAIGN_PROMPT_MODULE": "prompts"})
    assert legacy_campaign(project / "campaigns", {"CAMPAIGN_PROMPT_MODULE": ""}) is None
    (project / "campaigns" / ".legacy.json").write_text('{"campaigns": [\n  {,\n]}')
    with pytest.raises(DialerError) as err:
        legacy_campaign(project / "campaigns", {"CAMPAIGN_PROMPT_MODULE": "prompts"})
    assert "invalid JSON" in err.value.message and err.value.location.line == 2


def test_rerun_keeps_files_and_force_replaces_them(project, legacy):
    assert cli("import-legacy", "legacy").exit_code == 0
    res = cli("import-legacy", "legacy")
    assert res.exit_code == 0, res.stderr  # already imported is not a failure
    assert "kept     leads/leads.csv  (same as the legacy one)" in res.stdout
    assert "skipped  campaigns/prompts.yaml  already imported, unchanged" in res.stdout
    assert "wrote" not in res.stdout

    edited = project / "campaigns" / "prompts" / "google_agent.md"
    edited.write_text("my own edit\n")
    (project / "leads" / "leads.csv").write_text(LEADS + "Dee,Initech,CEO,+1 415-555-0100,,,Sam\n")
    res = cli("import-legacy", "legacy")
    assert res.exit_code == 0
    assert (
        "skipped  campaigns/google.yaml  campaigns/prompts/google_agent.md exists "
        "(edited since the import?); --force replaces it" in res.stdout
    )
    assert "skipped  leads/leads.csv  a different file is there" in res.stdout
    assert edited.read_text() == "my own edit\n"
    mapping = json.loads((project / "campaigns" / ".legacy.json").read_text())
    assert "google.yaml" in {e["file"] for e in mapping["campaigns"]}  # still the import's

    res = cli("import-legacy", "legacy", "--force")
    assert res.exit_code == 0
    assert "wrote    campaigns/google.yaml" in res.stdout
    assert "copied   leads/leads.csv" in res.stdout
    assert "[Resource Name] on the Google Cloud partner programme" in edited.read_text()
    assert (project / "leads" / "leads.csv").read_text() == LEADS


def test_a_campaign_file_of_the_same_name_is_not_overwritten(project, legacy):
    own = project / "campaigns" / "google.yaml"
    own.write_text((project / "campaigns" / "example.yaml").read_text().replace("Example", "Mine"))
    res = cli("import-legacy", "legacy")
    assert res.exit_code == 0
    assert "skipped  campaigns/google.yaml  campaigns/google.yaml exists; --force" in res.stdout
    assert "Mine outreach" in own.read_text()
    mapping = json.loads((project / "campaigns" / ".legacy.json").read_text())
    assert "google.yaml" not in {e["file"] for e in mapping["campaigns"]}
    with pytest.raises(DialerError, match="no legacy campaign from that module"):
        legacy_campaign(project / "campaigns", {"CAMPAIGN_PROMPT_MODULE": "google"})


def test_json_output(project, legacy):
    res = cli("import-legacy", "legacy", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["ok"] is True
    assert len(data["written"]) == 5
    item = next(w for w in data["written"] if w["file"] == "campaigns/google.yaml")
    assert item["source"] == "backend/campaigns_prompts/google.py"
    assert item["prompts"] == [
        "campaigns/prompts/google_agent.md",
        "campaigns/prompts/google_session.md",
    ]
    assert item["leads_selected"] == 3
    assert {f["line"] for f in data["failed"]} == {1, 3}


def test_bad_input_is_reported_without_a_traceback(project, tmp_path):
    res = run_dialer("import-legacy", "nowhere", cwd=project)
    assert res.returncode == 1
    assert res.stderr.startswith("nowhere: no such folder") and "Traceback" not in res.stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "campaigns.json").write_text('[\n  {"name": "A", "module": "a"}\n  {"name": "B"}\n]')
    (broken / "prompts.py").write_text("ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = (\n")
    (broken / "leads.csv").write_text(LEADS)
    res = run_dialer("import-legacy", str(broken), cwd=project)
    assert res.returncode == 1, res.stdout  # nothing could be imported
    assert "Traceback" not in res.stderr
    assert f"{broken}/campaigns.json:3:3: invalid JSON: Expecting ',' delimiter" in res.stderr
    assert f"{broken}/prompts.py:1:" in res.stderr and "syntax error" in res.stderr
    assert "0 campaign(s) written" in res.stderr
    assert not list((project / "campaigns").glob("prompts*"))

    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("import-legacy", str(empty))
    assert res.exit_code == 1 and "no legacy campaigns found" in res.stderr


def test_a_computed_constant_is_named_with_its_line(project, tmp_path):
    folder = tmp_path / "computed"
    folder.mkdir()
    (folder / "prompts.py").write_text(
        'import os\nENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = os.environ["PROMPT"]\n'
        'SESSION_INSTRUCTION = "Hi %s" % os.getlogin()\n'
    )
    (folder / "leads.csv").write_text(LEADS)
    res = cli("import-legacy", str(folder))
    assert res.exit_code == 1
    assert (
        f"{folder}/prompts.py:2:1: ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS is an expression "
        "(Subscript): computed when the module runs, so it is not imported" in res.stderr
    )


def test_no_lead_list_means_no_campaigns(project, tmp_path):
    folder = tmp_path / "noleads"
    folder.mkdir()
    (folder / "prompts.py").write_text(PROMPTS)
    res = cli("import-legacy", str(folder))
    assert res.exit_code == 1
    assert "no leads.csv: the imported campaigns need the legacy lead list" in res.stderr
    assert "leads/leads.csv" in res.stderr
    assert not (project / "campaigns" / "prompts.yaml").exists()


def test_lead_headers_written_differently_are_mapped(project, tmp_path):
    folder = tmp_path / "headers"
    folder.mkdir()
    (folder / "prompts.py").write_text(PROMPTS)
    header, _, rows = LEADS.partition("\n")
    (folder / "leads.csv").write_text(
        "Prospect Name,Company Name,Job Title,Phone,Email,Timezone,Resource Name\n" + rows
    )
    assert cli("import-legacy", str(folder)).exit_code == 0
    text = (project / "campaigns" / "prompts.yaml").read_text()
    assert 'phone: "Phone"' in text and 'prospect_name: "Prospect Name"' in text
    assert render("campaigns/prompts.yaml")["opening"].startswith("Hi Avery Johnson, this is Sam")


def test_jinja_syntax_in_legacy_text_renders_literally():
    """The escape alone; the CLI test above renders it through the real campaign templates."""
    from jinja2.sandbox import SandboxedEnvironment

    text = "a {{ x }} b {% if y %} c {# z #} d {{{ e }}} f {%- raw -%} g [Prospect Name]"
    escaped = escape_jinja(text)
    rendered = SandboxedEnvironment(trim_blocks=True).from_string(escaped).render()
    assert rendered == text
    assert escape_jinja("no braces, {single} } and }}") == "no braces, {single} } and }}"


def test_constant_shapes_are_read_without_running_them(tmp_path):
    module = tmp_path / "shapes.py"
    module.write_text(
        "import textwrap\n"
        "PLAIN = 'plain'\n"
        'IMPLICIT = ("one "\n    "two")\n'
        'TRIPLE = """\n  three\n"""\n'
        "STRIPPED = '''\n  four\n'''.strip()\n"
        "JOINED = PLAIN + ' and ' + IMPLICIT\n"
        "DEDENTED = textwrap.dedent('''\n    five\n      six\n''')\n"
        "EMPTY_F = f'no fields'\n"
        "ANNOTATED: str = 'typed'\n"
        "LATER = 'first'\n"
        "LATER = 'second'\n"
        "GROWS = 'a'\n"
        "GROWS += 'b'\n"
        "FSTRING = f'{PLAIN}!'\n"
        "PERCENT = 'x %s' % PLAIN\n"
        "FORMAT = '{}'.format(PLAIN)\n"
        "CALLED = open('x').read()\n"
        "NUMBER = 3\n"
        "UNKNOWN = OTHER\n"
        "SHADOWED = 'ok'\n"
        "SHADOWED = len('x')\n"
    )
    got = read_constants(module, "shapes.py")
    literal = {k: v for k, v in got.items() if isinstance(v, str)}
    assert literal == {
        "PLAIN": "plain",
        "IMPLICIT": "one two",
        "TRIPLE": "\n  three\n",
        "STRIPPED": "four",
        "JOINED": "plain and one two",
        "DEDENTED": "\nfive\n  six\n",
        "EMPTY_F": "no fields",
        "ANNOTATED": "typed",
        "LATER": "second",
        "GROWS": "ab",
    }
    errors = {k: v.message for k, v in got.items() if isinstance(v, DialerError)}
    assert errors["FSTRING"].startswith("FSTRING is an f-string with {...} fields")
    assert errors["PERCENT"].startswith("PERCENT is a %-formatted string")
    assert errors["FORMAT"].startswith("FORMAT is a call to .format()")
    assert errors["CALLED"].startswith("CALLED is a call to .read()")
    assert errors["NUMBER"].startswith("NUMBER is an int, not a string")
    assert errors["UNKNOWN"].startswith("UNKNOWN is the name OTHER")
    assert errors["SHADOWED"].startswith("SHADOWED is a call to len()")  # the last one counts
    assert got["FSTRING"].location.line == 22


def test_registry_shapes(tmp_path):
    root = tmp_path / "shapes"
    (root / "campaigns_prompts").mkdir(parents=True)
    (root / "prompts.py").write_text(PROMPTS)
    (root / "campaigns_prompts" / "acme-demo.py").write_text(GOOGLE)
    (root / "campaigns_prompts" / "alt.py").write_text(
        GOOGLE + "\nOTHER_AGENT = 'Other [Prospect Name]'\nOTHER_SESSION = 'Hi. Recorded.'\n"
    )
    (root / "campaigns.json").write_text(
        json.dumps(
            {
                "custom": [{"name": "Acme demo", "module": "acme-demo"}],
                "builtin": {
                    "Alt (alt)": ["campaigns_prompts.alt", "OTHER_AGENT", "OTHER_SESSION"],
                    "Alt agent only": {"module": "alt.py", "agent": "OTHER_AGENT"},
                },
            }
        )
    )
    found = read_legacy(root)
    assert not found.problems
    got = {(c.module, c.agent_name, c.session_name): c for c in found.campaigns}
    acme = got[("campaigns_prompts.acme-demo", AGENT, SESSION)]
    assert acme.custom and acme.names == ["Acme demo"]
    alt = got[("campaigns_prompts.alt", "OTHER_AGENT", "OTHER_SESSION")]
    assert not alt.custom and alt.names == ["Alt (alt)", "Alt"] and alt.opening == "Hi. Recorded."
    only_agent = got[("campaigns_prompts.alt", "OTHER_AGENT", SESSION)]
    assert only_agent.instructions == "Other [Prospect Name]"
    assert ("prompts", AGENT, SESSION) in got  # found by scanning, though no registry lists it


def test_a_session_script_is_imported_with_a_note(project, tmp_path):
    """Legacy SESSION_INSTRUCTIONs were often whole call scripts given to the model's first turn;
    dialer speaks the opening word for word, so the import says so where the user will look."""
    folder = tmp_path / "script"
    folder.mkdir()
    steps = "".join(f"{i}. Step {i}: say something to [Prospect Name].\n" for i in range(1, 9))
    (folder / "konfhub.py").write_text(
        f'ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS = "You sell KonfHub."\n'
        f'SESSION_INSTRUCTION = """\n# Task\n{steps}"""\n'
    )
    (folder / "leads.csv").write_text(LEADS)
    res = cli("import-legacy", str(folder))
    assert res.exit_code == 0, res.stderr
    assert "note     campaigns/konfhub.yaml: SESSION_INSTRUCTION is a call script" in res.stdout
    text = (project / "campaigns" / "konfhub.yaml").read_text()
    assert "# the legacy SESSION_INSTRUCTION is a call script" in text
    assert (
        "8. Step 8: say something to Avery Johnson." in render("campaigns/konfhub.yaml")["opening"]
    )


def test_the_legacy_selector_picks_the_campaign_for_call_run_and_console(
    project, legacy, monkeypatch
):
    """The legacy Node backend spawned `LEAD_INDEX=N CAMPAIGN_PROMPT_MODULE=... agent.py`:
    with no campaign argument, `dialer call` / `run` / `console` take the imported one."""
    from dialer.console.session import default_campaign

    assert cli("import-legacy", "legacy").exit_code == 0
    monkeypatch.setenv("CAMPAIGN_PROMPT_MODULE", "backend.campaigns_prompts.google")
    monkeypatch.setenv("LEAD_INDEX", "1")
    res = cli("call", "--force-window", "legacy selector test", "--speed", "1000", "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["campaign"] == "Google" and summary["dialed"] == 1
    assert default_campaign(project / "campaigns", None) == project / "campaigns" / "google.yaml"
    monkeypatch.setenv("CAMPAIGN_PROMPT_MODULE", "nosuch")
    res = cli("run", "--quiet")
    assert res.exit_code == 1 and "CAMPAIGN_PROMPT_MODULE" in res.stderr
    monkeypatch.delenv("CAMPAIGN_PROMPT_MODULE")
    res = cli("run", "--quiet")
    assert res.exit_code == 2 and "give a campaign file" in res.stderr
