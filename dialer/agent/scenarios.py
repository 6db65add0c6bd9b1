"""`dialer test`: conversation scenarios against the campaign's agent, reported like pytest.

A scenario names a lead, the person's turns and what the agent must do (see `Scenario` in the
campaign schema). Scenarios live in the campaign's `tests:` section or in `NAME.tests.yaml`
beside it. Each runs in a fresh text conversation with the worker's agent (`textchat`), and
its checks use livekit-agents' own testing API where it has one: `RunResult.expect` for tool
calls and `judge` for intents.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.campaign.schema import Expectation, Scenario, ScenarioFile, ScenarioTurn
from dialer.errors import CampaignInvalid, DialerError, Location


@dataclass
class Case:
    """One scenario to run: the campaign it tests and where it is written."""

    campaign: Path
    scenario: Scenario
    location: Location

    @property
    def id(self) -> str:
        return f"{self.campaign}::{self.scenario.name}"


@dataclass
class Outcome:
    case: Case
    failures: list[str] = field(default_factory=list)
    error: str | None = None  # the scenario could not run (bad lead, invalid campaign, ...)
    turns: list[Any] = field(default_factory=list)  # textchat.Turn, opening first
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    @property
    def status(self) -> str:
        return "PASSED" if self.passed else ("ERROR" if self.error else "FAILED")

    def transcript(self) -> list[str]:
        lines: list[str] = []
        for turn in self.turns:
            if turn.user is not None:
                lines.append(f"lead: {turn.user}")
            for kind, value in turn.events:
                if kind == "say":
                    lines.append(f"agent: {value}")
                else:
                    args = ", ".join(f"{k}={v!r}" for k, v in value.arguments.items())
                    lines.append(f"  [{value.name}({args}) -> {value.output}]")
            if turn.ended:
                lines.append("  [the agent ended the call]")
        return lines


def tests_file(campaign: Path) -> Path:
    return campaign.with_name(campaign.name.rsplit(".", 1)[0] + ".tests.yaml")


def collect(campaign: Path) -> list[Case]:
    """The campaign's scenarios: its `tests:` section, then NAME.tests.yaml."""
    from dialer.campaign.load import load_campaign

    loaded = load_campaign(campaign)
    cases = [
        Case(campaign, s, loaded.locate(("tests", i))) for i, s in enumerate(loaded.campaign.tests)
    ]
    extra = tests_file(campaign)
    if extra.exists():
        cases += [Case(campaign, s, where) for s, where in load_scenario_file(extra)]
    return cases


def load_scenario_file(path: Path) -> list[tuple[Scenario, Location]]:
    """The scenarios of a NAME.tests.yaml, each with its line; errors as `dialer validate`'s."""
    import yaml
    from pydantic import ValidationError

    from dialer.campaign import load as cl

    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DialerError(f"can not read scenario file: {exc}", Location(shown)) from None
    try:
        walker, data = cl._compose(text, shown, cl._Loader)
    except yaml.YAMLError:
        walker, data = cl._compose(text, shown, yaml.SafeLoader)
    if isinstance(data, list):  # a bare list of scenarios is fine too
        data, walker.positions = {"tests": data}, _nest(walker.positions, "tests")
        walker.key_positions = _nest(walker.key_positions, "tests")
    if not isinstance(data, dict):
        raise DialerError("expected `tests:` with a list of scenarios", Location(shown, 1, 1))
    try:
        parsed = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        errors = list(walker.errors) + cl._pydantic_errors(exc, shown, walker, data)
        raise CampaignInvalid(errors) from None
    if walker.errors:
        raise CampaignInvalid(walker.errors)
    return [
        (s, cl._locate(shown, walker.positions, ("tests", i))) for i, s in enumerate(parsed.tests)
    ]


def _nest(positions: dict, key: str) -> dict:
    return {(key, *k): v for k, v in positions.items()}


async def run_case(case: Case, make_llm, judge_llm=None) -> Outcome:
    """Run one scenario in a fresh conversation; `make_llm(spec)` gives its model."""
    from dialer.agent.textchat import Conversation, chat_target

    outcome = Outcome(case)
    started = time.perf_counter()
    s = case.scenario
    try:
        target = chat_target(
            case.campaign,
            row=s.lead if isinstance(s.lead, int) else None,
            fields=s.lead if isinstance(s.lead, dict) else None,
            variant=s.variant,
        )
    except DialerError as exc:
        outcome.error = exc.format()
        return outcome
    checks = _Checks(outcome, target, judge_llm)
    try:
        async with Conversation(target.spec, make_llm(target.spec)) as conv:
            outcome.turns.append(await conv.opening())
            for n, raw in enumerate(s.turns, 1):
                turn_spec = ScenarioTurn(user=raw) if isinstance(raw, str) else raw
                if conv.ended:
                    outcome.failures.append(
                        f"the agent ended the call before turn {n} ({turn_spec.user!r})"
                    )
                    break
                turn = await conv.say(turn_spec.user)
                outcome.turns.append(turn)
                for e in turn_spec.expect:
                    await checks.check(e, [turn], f"turn {n} ({turn_spec.user!r})")
            for e in s.expect:
                await checks.check(e, outcome.turns, "conversation")
    except DialerError as exc:
        outcome.error = exc.format()
    except Exception as exc:  # a model or plugin failure is this scenario's error, not a crash
        outcome.error = f"{type(exc).__name__}: {exc}"
    outcome.seconds = time.perf_counter() - started
    return outcome


class _Checks:
    def __init__(self, outcome: Outcome, target: Any, judge_llm: Any) -> None:
        self.outcome, self.target, self.judge_llm = outcome, target, judge_llm

    def fail(self, where: str, message: str) -> None:
        self.outcome.failures.append(f"{where}: {message}")

    async def check(self, e: Expectation, turns: list[Any], where: str) -> None:
        kind = e.kind
        replies = [r for t in turns for r in t.replies]
        tools = [c for t in turns for c in t.tools]
        if kind == "tool":
            if not any(_has_call(t, e.tool, e.args) for t in turns):
                seen = ", ".join(f"{c.name}({c.arguments})" for c in tools) or "none"
                want = f" with {e.args}" if e.args else ""
                self.fail(where, f"expected a call to {e.tool}{want}; tools called: {seen}")
        elif kind == "no_tool":
            if any(c.name == e.no_tool for c in tools):
                self.fail(where, f"expected no call to {e.no_tool}, but it was called")
        elif kind == "reply":
            if not any(re.search(e.reply, r) for r in replies):
                self.fail(where, f"no reply matches /{e.reply}/")
        elif kind == "not_reply":
            hit = next((r for r in replies if re.search(e.not_reply, r)), None)
            if hit is not None:
                self.fail(where, f"a reply matches /{e.not_reply}/: {hit!r}")
        elif kind == "ends_call":
            ended = bool(turns) and turns[-1].ended
            if ended != e.ends_call:
                said = "expected the agent to end the call" if e.ends_call else "the call ended"
                self.fail(where, said)
        elif kind in ("opening_contains", "disclosure"):
            self._opening(e, where)
        elif kind == "judge":
            await self._judge(e.judge, turns, where)

    def _opening(self, e: Expectation, where: str) -> None:
        opening = self.outcome.turns[0].reply if self.outcome.turns else ""
        if e.opening_contains is not None:
            if e.opening_contains.lower() not in opening.lower():
                self.fail(where, f"the opening does not say {e.opening_contains!r}: {opening!r}")
            return
        pattern = self.target.revision.campaign.recording.disclosure_pattern
        found = bool(re.search(pattern, opening, re.I))
        if found != e.disclosure:
            self.fail(
                where,
                f"the opening {'lacks' if e.disclosure else 'has'} the recording disclosure "
                f"(/{pattern}/): {opening!r}",
            )

    async def _judge(self, intent: str, turns: list[Any], where: str) -> None:
        if self.judge_llm is None:
            self.fail(where, "a judged expectation needs a model (--judge-llm)")
            return
        reasons = []
        for turn in turns:
            if turn.result is None:
                continue
            try:
                await turn.result.expect.contains_message(role="assistant").judge(
                    self.judge_llm, intent=intent
                )
                return
            except AssertionError as exc:
                reasons.append(_first_line(exc))
        self.fail(where, f"judged not to {intent!r}: " + ("; ".join(reasons) or "no reply"))


def _has_call(turn: Any, name: str, args: dict | None) -> bool:
    """Through livekit's RunResult assertions when the turn has one (user turns do)."""
    if turn.result is None:
        return any(
            c.name == name and all(c.arguments.get(k) == v for k, v in (args or {}).items())
            for c in turn.tools
        )
    try:
        if args:
            turn.result.expect.contains_function_call(name=name, arguments=args)
        else:
            turn.result.expect.contains_function_call(name=name)
        return True
    except AssertionError:
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def junit_xml(outcomes: list[Outcome], seconds: float) -> str:
    """The results as JUnit XML (one testsuite), for CI systems."""
    from xml.etree import ElementTree as ET

    failures = sum(1 for o in outcomes if o.failures and o.error is None)
    errors = sum(1 for o in outcomes if o.error is not None)
    suite = ET.Element(
        "testsuite",
        name="dialer test",
        tests=str(len(outcomes)),
        failures=str(failures),
        errors=str(errors),
        time=f"{seconds:.3f}",
    )
    for o in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=str(o.case.campaign),
            name=o.case.scenario.name,
            file=o.case.location.path or str(o.case.campaign),
            line=str(o.case.location.line or 0),
            time=f"{o.seconds:.3f}",
        )
        if o.error is not None:
            ET.SubElement(case, "error", message=o.error).text = o.error
        elif o.failures:
            ET.SubElement(case, "failure", message=o.failures[0]).text = "\n".join(o.failures)
        if o.turns:
            ET.SubElement(case, "system-out").text = "\n".join(o.transcript())
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
