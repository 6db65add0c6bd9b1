"""`dialer chat` and `dialer test`: the worker's agent in a real livekit-agents text session,
with a scripted model that answers by what was said (no network, no key)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from rich.console import Console

from dialer.agent import textchat
from dialer.agent.scenarios import load_scenario_file
from dialer.chat import ChatApp, run_chat

from .agent_helpers import scripted_llm
from .conftest import cli, run_dialer

FOLLOW_UPS = {
    "opt_out": "Understood, you will not be called again. Goodbye.",
    "record_disposition": "Great, I will send you an invite for the demo.",
    "end_call": "Thanks for your time, goodbye!",
    "schedule_callback": "I will call you back then.",
}


def respond(ctx):
    """The model: answers by the last thing in the conversation."""
    items = ctx.items
    first, last = items[0], items[-1]
    if first.type == "message" and "test evaluator" in (first.text_content or ""):
        # a judge request: "Intent: ... Message: ..." in one text; this judge knows one intent
        intent, _, message = (last.text_content or "").partition("Message:")
        verdict = "not be called" in intent and "not be called again" in message
        return [("check_intent", {"success": verdict, "reason": "scripted judge"})]
    if last.type == "function_call_output":
        return FOLLOW_UPS.get(last.name, "ok")
    text = last.text_content or "" if last.type == "message" else ""
    if last.type == "message" and last.role == "system" and "word for word" in text:
        return text.split("\n", 1)[1]  # the opening, as told
    lowered = text.lower()
    if "who is this" in lowered:
        return "This is Sam from Demandify, about a short demo."
    if "not call" in lowered or "don't call" in lowered:
        return [("opt_out", {})]
    if "tell me more" in lowered:
        return [("record_disposition", {"disposition": "interested", "notes": "demo"})]
    if "bye" in lowered:
        return [("end_call", {})]
    return "Sorry, could you say that again?"


@pytest.fixture
def scripted(monkeypatch):
    """Every model dialer asks for is the scripted one (the key check still runs)."""
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key")
    made = []

    def fake(choice, env, temperature=None):
        assert env.get("GOOGLE_API_KEY") == "test-key"
        made.append(choice)
        return scripted_llm(respond)

    monkeypatch.setattr(textchat, "text_llm", fake)
    return made


SCENARIOS = """\
# yaml-language-server: $schema=tests.schema.json
tests:
  - name: opt-out is honoured
    lead: 1
    turns:
      - Who is this?
      - user: Please do not call me again.
        expect:
          - tool: opt_out
          - ends_call: true
    expect:
      - disclosure: true
      - opening_contains: "Avery Johnson"
      - not_reply: "(?i)price"
      - judge: "confirms the person will not be called again"
  - name: interest is recorded
    lead: {prospect_name: Kim, resource_name: Sam, job_title: CTO, company_name: Acme,
           phone: "+1 201 555 0100"}
    turns:
      - user: Tell me more
        expect:
          - tool: record_disposition
            args: {disposition: interested}
          - reply: "(?i)demo"
          - ends_call: false
  - name: books a callback
    turns:
      - Who is this?
    expect:
      - tool: schedule_callback
"""


def test_scenarios_pass_fail_report_and_junit(project, scripted):
    (project / "campaigns" / "example.tests.yaml").write_text(SCENARIOS)
    res = cli("test", "campaigns/example.yaml", "--junit-xml", "out.xml")
    assert res.exit_code == 1, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert "campaigns/example.yaml::opt-out is honoured PASSED" in lines[0]
    assert "campaigns/example.yaml::interest is recorded PASSED" in lines[1]
    assert "campaigns/example.yaml::books a callback FAILED" in lines[2]
    out = res.stdout
    # the failure says what was expected, what happened, and shows the conversation
    assert "conversation: expected a call to schedule_callback; tools called: none" in out
    assert "agent: Hi Avery Johnson, this is Sam from Demandify." in out
    assert "lead: Who is this?" in out
    assert "=== 2 passed, 1 failed in" in out
    suite = ET.parse(project / "out.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["books a callback"]
    assert "schedule_callback" in failed[0].find("failure").get("message")
    assert failed[0].get("line") == "26"  # where the scenario is written
    # -k picks scenarios by name; all passing is exit 0
    res = cli("test", "campaigns/example.yaml", "-k", "opt-out")
    assert res.exit_code == 0, res.stdout
    assert "=== 1 passed in" in res.stdout


def test_a_failing_expectation_of_each_kind_is_reported(project, scripted):
    (project / "campaigns" / "example.tests.yaml").write_text("""\
tests:
  - name: everything wrong
    turns:
      - user: Please do not call me again.
        expect:
          - no_tool: opt_out
          - ends_call: false
          - reply: "(?i)pineapple"
          - not_reply: "(?i)goodbye"
          - judge: "offers a discount"
    expect:
      - opening_contains: "Good evening"
      - disclosure: false
""")
    res = cli("test", "campaigns/example.yaml")
    assert res.exit_code == 1
    out = res.stdout
    where = "turn 1 ('Please do not call me again.')"
    assert f"{where}: expected no call to opt_out, but it was called" in out
    assert f"{where}: the call ended" in out
    assert f"{where}: no reply matches /(?i)pineapple/" in out
    assert f"{where}: a reply matches /(?i)goodbye/" in out
    assert f"{where}: judged not to 'offers a discount'" in out
    assert "conversation: the opening does not say 'Good evening'" in out
    assert "conversation: the opening has the recording disclosure" in out


def test_scenarios_in_the_campaign_and_bad_scenario_files(project, scripted):
    campaign = project / "campaigns" / "example.yaml"
    (project / "campaigns" / "example.tests.yaml").unlink()
    campaign.write_text(
        campaign.read_text()
        + "\ntests:\n  - name: inline scenario\n    turns: [Who is this?]\n"
        + "    expect: [{reply: Demandify}]\n"
    )
    res = cli("test")  # default: every campaign in campaigns/
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "campaigns/example.yaml::inline scenario PASSED" in res.stdout
    # a mistake in a scenario file: its line, a did-you-mean, no traceback, nothing runs
    (project / "campaigns" / "example.tests.yaml").write_text(
        "tests:\n  - name: typo\n    turns: [hi]\n    expect:\n      - tool: opt_out\n"
        "        argz: {}\n"
    )
    res = cli("test")
    assert res.exit_code == 1
    assert "campaigns/example.tests.yaml:6:9: tests[0].expect[0].argz: unknown key 'argz'" in (
        res.stderr
    )
    assert "did you mean 'args'?" in res.stderr and "PASSED" not in res.stdout
    # `dialer validate` checks the scenario file with the campaign
    res = cli("validate", "campaigns/example.yaml")
    assert res.exit_code == 1 and "example.tests.yaml:6:9" in res.stdout + res.stderr


def test_no_scenarios_is_a_failure_not_a_silent_pass(project, scripted):
    (project / "campaigns" / "example.tests.yaml").unlink()  # `dialer init` ships two
    res = cli("test")
    assert res.exit_code == 1
    assert "no scenarios to run" in res.stderr


def test_without_a_key_chat_and_test_say_so_in_one_line(project):
    env = {"GOOGLE_API_KEY": ""}
    for args in (["chat", "campaigns/example.yaml"], ["test"]):
        res = run_dialer(*args, cwd=project, env=env)
        assert res.returncode == 1
        assert res.stderr.strip().splitlines() == [
            "GOOGLE_API_KEY is not set: the conversation needs the google model (hint: set it "
            "in the environment or the project's .env)"
        ]
    res = run_dialer("chat", "campaigns/example.yaml", "--llm", "nosuch", cwd=project)
    assert res.returncode == 1 and "--llm: unknown provider 'nosuch'" in res.stderr


def test_chat_on_the_command_line_shows_replies_and_tools(project, scripted):
    res = cli(
        "chat", "campaigns/example.yaml", "--lead", "1",
        input="Who is this?\nTell me more\n/quit\n",
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout + res.stderr
    out = res.stdout
    assert "Example outreach revision" in out and "talking as Avery Johnson, row 1" in out
    assert "agent: Hi Avery Johnson, this is Sam from Demandify." in out
    assert "agent: This is Sam from Demandify, about a short demo." in out
    assert "[record_disposition(disposition='interested', notes='demo')] -> recorded" in out
    assert "agent: Great, I will send you an invite for the demo." in out
    # live, in the order it happened: the tool call, then what the agent said after it
    assert out.index("[record_disposition(") < out.index("agent: Great, I will send")


def new_app(project, console):
    return ChatApp(
        project / "campaigns" / "example.yaml",
        lambda spec: scripted_llm(respond),
        console,
        row=1,
    )


def test_a_saved_edit_replays_the_turns_beside_the_old_replies(project, scripted):
    campaign = project / "campaigns" / "example.yaml"
    (project / "campaigns" / "example.tests.yaml").unlink()  # /save writes a new file
    console = Console(record=True, width=160)

    async def main():
        app = new_app(project, console)
        await app.start()
        await app.handle("Who is this?")
        await app.handle("Tell me more")
        old_revision = app.target.spec.revision
        campaign.write_text(
            campaign.read_text().replace("Do you have a minute?", "Is now a good time?")
        )
        await app.reload()
        assert app.target.spec.revision != old_revision
        assert [t.user for t in app.conv.turns] == [None, "Who is this?", "Tell me more"]
        # an invalid edit: its error, and the conversation goes on with the running revision
        good = campaign.read_text()
        campaign.write_text(good.replace("instructions: |", "instructionz: |"))
        await app.reload()
        await app.handle("bye")
        assert app.conv.ended
        # /save: the conversation as a scenario that `dialer test` runs
        await app.handle("/save campaigns/example.tests.yaml")
        await app.handle("/reset")
        assert [t.user for t in app.conv.turns] == [None]
        await app._close()
        campaign.write_text(good)

    asyncio.run(main())
    out = console.export_text()
    assert "replayed on revision" in out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "(opening)" in line)
    before, after = zip(*(line.split("│")[2:4] for line in lines[at : at + 2]), strict=True)
    assert "Do you have a minute?" in " ".join(before).replace("  ", " ")
    assert "Is now a good time?" in " ".join(after).replace("  ", " ")
    assert "unknown key 'instructionz'" in out and "did you mean 'instructions'?" in out
    assert "still on revision" in out
    assert "the agent ended the call" in out and "-- new conversation --" in out
    saved = project / "campaigns" / "example.tests.yaml"
    [(scenario, where)] = load_scenario_file(saved)
    assert [t if isinstance(t, str) else t.user for t in scenario.turns] == [
        "Who is this?",
        "Tell me more",
        "bye",
    ]
    assert scenario.turns[1].expect[0].tool == "record_disposition"
    assert scenario.turns[1].expect[0].args == {"disposition": "interested"}
    assert [e.kind for e in scenario.expect] == ["disclosure", "ends_call"]
    res = cli("test", "campaigns/example.yaml")
    assert res.exit_code == 0, res.stdout
    assert "PASSED" in res.stdout


def test_watch_mode_replays_on_a_real_save(project, scripted):
    campaign = project / "campaigns" / "example.yaml"
    console = Console(record=True, width=160)

    async def main():
        app = new_app(project, console)
        lines: asyncio.Queue = asyncio.Queue()
        task = asyncio.create_task(run_chat(app, lines, watch=True))
        lines.put_nowait("Who is this?")
        deadline = time.monotonic() + 20
        while "This is Sam" not in console.export_text(clear=False):
            assert time.monotonic() < deadline, console.export_text(clear=False)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the watcher is up
        campaign.write_text(campaign.read_text().replace("Do you have", "Have you got"))
        while "replayed on revision" not in console.export_text(clear=False):
            assert time.monotonic() < deadline, console.export_text(clear=False)
            await asyncio.sleep(0.05)
        lines.put_nowait(None)  # end of input
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert "Have you got a minute?" in console.export_text()


def test_the_shipped_campaign_scenarios_pass(scripted, monkeypatch):
    """campaigns/q4.tests.yaml runs (the scripted model is not the real prompt's model, so this
    checks the file and the runner, not the prompt)."""
    repo = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(repo)
    [(first, _), *_] = load_scenario_file(repo / "campaigns" / "q4.tests.yaml")
    assert first.name
