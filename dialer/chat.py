"""`dialer chat`: talk to a campaign's agent in the terminal; with `--watch`, edit and replay.

Each save of the campaign or a prompt file loads the new revision, starts a new conversation
with it and replays the person's turns so far, showing the new replies beside the old ones. An
invalid edit shows its errors and the conversation goes on with the running revision.
`/reset` starts over, `/save FILE` writes the conversation as a scenario for `dialer test`,
`/quit` (or end of input) leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dialer.agent.textchat import Conversation, Turn, chat_target
from dialer.errors import CampaignInvalid, DialerError

HELP = "/reset starts over, /save FILE keeps this as a test scenario, /quit leaves"


class ChatApp:
    """The conversation loop; input lines come from a queue (stdin, or a test)."""

    def __init__(
        self,
        campaign: Path,
        make_llm: Callable[[Any], Any],
        console: Any,
        row: int | None = None,
        phone: str | None = None,
        variant: str | None = None,
    ) -> None:
        self.campaign = Path(campaign)
        self.make_llm = make_llm
        self.console = console
        self.row, self.phone, self.variant = row, phone, variant
        self.target = None
        self.conv: Conversation | None = None
        self._lock = asyncio.Lock()  # a save and a typed line never use the conversation at once

    # ----- conversations --------------------------------------------------------------------
    def _load(self):
        return chat_target(self.campaign, self.row, self.phone, self.variant)

    async def _open(self, target, live: bool = True) -> tuple[Conversation, Turn]:
        """A new conversation and its opening; `live`: show what the agent does as it does it."""
        conv = Conversation(target.spec, self.make_llm(target.spec))
        await conv.__aenter__()
        if live:
            conv.on_event = self._event
        opening = await conv.opening()
        self._ended(opening)
        return conv, opening

    async def _close(self) -> None:
        if self.conv is not None:
            await self.conv.__aexit__(None, None, None)
            self.conv = None

    async def start(self) -> None:
        """Load the campaign (an invalid one raises) and say the opening."""
        self.target = self._load()
        self._header()
        self.conv, _ = await self._open(self.target)

    def _header(self) -> None:
        t = self.target
        lead = t.lead
        who = lead.get("prospect_name") or lead.get("name") or lead.get("phone") or "the lead"
        stage = "" if t.stage in ("selected", "inline") else f" ({t.stage}: a call would not dial)"
        variant = f", variant {t.spec.variant}" if t.spec.variant else ""
        self.console.print(
            f"[bold]{t.spec.campaign}[/] revision {t.spec.revision}{variant}: talking as "
            f"{who}, row {lead.get('row')}{stage}. {HELP}",
            highlight=False,
        )

    # ----- input ----------------------------------------------------------------------------
    async def handle(self, line: str) -> bool:
        """One line of input; False when the chat is over."""
        text = line.strip()
        if not text:
            return True
        async with self._lock:
            if text in ("/quit", "/exit", "/q"):
                return False
            if text == "/reset":
                await self._close()
                self.console.print("[dim]-- new conversation --[/]")
                self.conv, _ = await self._open(self.target)
                return True
            if text.startswith("/save"):
                self._save(text[len("/save") :].strip())
                return True
            if text.startswith("/"):
                self.console.print(f"unknown command {text.split()[0]}: {HELP}", highlight=False)
                return True
            try:
                turn = await self.conv.say(text)  # shown as it happens, by _event
            except DialerError as exc:
                self.console.print(exc.format(), style="red", highlight=False, soft_wrap=True)
                return True
            self._ended(turn)
            return True

    # ----- hot reload -----------------------------------------------------------------------
    async def reload(self) -> None:
        """A saved edit: load it; when valid, replay the turns so far on it, old beside new."""
        async with self._lock:
            try:
                target = self._load()
            except DialerError as exc:
                self._error(exc)
                self.console.print(
                    f"[dim]still on revision {self.target.spec.revision}[/]", highlight=False
                )
                return
            if target.spec.revision == self.target.spec.revision:
                return
            old_turns = list(self.conv.turns) if self.conv else []
            new_conv, opening = await self._open(target, live=False)
            new_turns = [opening]
            for old in old_turns[1:]:
                if new_conv.ended:
                    break
                new_turns.append(await new_conv.say(old.user))
            await self._close()
            new_conv.on_event = self._event  # from here on, the conversation goes on live
            self.target, self.conv = target, new_conv
            self._replay(old_turns, new_turns, target.spec.revision)

    def _replay(self, old: list[Turn], new: list[Turn], revision: str) -> None:
        from rich.table import Table

        table = Table(title=f"replayed on revision {revision}", show_lines=True, expand=True)
        table.add_column("lead", ratio=1)
        table.add_column("before", ratio=2)
        table.add_column("after", ratio=2)
        for i, before in enumerate(old):
            after = new[i] if i < len(new) else None
            table.add_row(
                before.user or "(opening)",
                _turn_text(before),
                _turn_text(after) if after else "(the call had ended)",
            )
        self.console.print(table)
        if self.conv is not None and self.conv.ended:
            self.console.print("[dim]the agent ended the call: /reset to start over[/]")

    # ----- output ---------------------------------------------------------------------------
    def _event(self, kind: str, value: Any) -> None:
        if kind == "say":
            self.console.print(f"[bold cyan]agent:[/] {_escape(value)}", highlight=False)
        else:
            self.console.print(f"  [yellow]{_escape(_tool_text(value))}[/]", highlight=False)

    def _ended(self, turn: Turn) -> None:
        if turn.ended:
            self.console.print("[dim]the agent ended the call: /reset to start over[/]")

    def _error(self, exc: DialerError) -> None:
        errors = exc.errors if isinstance(exc, CampaignInvalid) else [exc]
        for e in errors:
            self.console.print(e.format(), style="red", highlight=False, soft_wrap=True)

    def _save(self, name: str) -> None:
        if not name:
            self.console.print("usage: /save FILE (e.g. campaigns/q4.tests.yaml)")
            return
        path = Path(name)
        if path.exists():
            self.console.print(
                f"{path} exists: /save a new file (then move the scenario into it)", style="red"
            )
            return
        path.write_text(scenario_yaml(self.target, self.conv.turns if self.conv else []))
        self.console.print(f"saved {path}: run it with `dialer test {self.campaign}`")


def scenario_yaml(target: Any, turns: list[Turn]) -> str:
    """The conversation as a scenario file: the person's turns, and the tools the agent called
    as expectations to keep (edit them: replies vary from run to run, tools should not)."""
    import yaml

    lead = target.lead
    scenario: dict[str, Any] = {
        "name": f"chat {datetime.now(UTC):%Y-%m-%d %H:%M}",
        "lead": lead["row"] if lead.get("row") else {k: v for k, v in lead.items() if k != "row"},
    }
    if target.spec.variant:
        scenario["variant"] = target.spec.variant
    steps: list[Any] = []
    for turn in turns[1:]:
        expect = [_tool_expectation(c) for c in turn.tools]
        steps.append({"user": turn.user, "expect": expect} if expect else turn.user)
    scenario["turns"] = steps
    scenario["expect"] = [{"ends_call": bool(turns and turns[-1].ended)}]
    if target.revision.campaign.recording.enabled:
        scenario["expect"].insert(0, {"disclosure": True})
    header = (
        "# yaml-language-server: $schema=tests.schema.json\n"
        f"# Saved from `dialer chat` on revision {target.spec.revision}. Replies vary from run\n"
        "# to run: add `reply:` patterns or `judge:` intents for what must hold.\n"
    )
    return header + yaml.safe_dump({"tests": [scenario]}, sort_keys=False, allow_unicode=True)


def _tool_expectation(call: Any) -> dict[str, Any]:
    keep = {"record_disposition": ("disposition",)}.get(call.name, ())
    args = {k: call.arguments[k] for k in keep if k in call.arguments}
    return {"tool": call.name, "args": args} if args else {"tool": call.name}


def _tool_text(call: Any) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
    return f"[{call.name}({args})] -> {call.output}"


def _turn_text(turn: Turn) -> str:
    from rich.markup import escape

    parts = [
        escape(v) if k == "say" else f"[yellow]{escape(_tool_text(v))}[/]" for k, v in turn.events
    ]
    if turn.ended:
        parts.append("[dim](ended the call)[/]")
    return "\n".join(parts) or "[dim](no reply)[/]"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


async def run_chat(
    app: ChatApp, lines: asyncio.Queue, watch: bool, prompt: Callable[[], None] | None = None
) -> None:
    """Start, then handle lines until /quit or end of input (None); reload on saves."""
    from dialer.watch import campaign_saves

    await app.start()
    stop = asyncio.Event()

    async def watcher() -> None:
        async for _ in campaign_saves(app.campaign, stop_event=stop):
            await app.reload()

    task = asyncio.create_task(watcher()) if watch else None
    try:
        while True:
            if prompt is not None:
                prompt()
            line = await lines.get()
            if line is None or not await app.handle(line):
                break
    finally:
        stop.set()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await app._close()


def stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue:
    """A queue fed with stdin's lines by a reader thread; None at end of input."""
    import sys
    import threading

    queue: asyncio.Queue = asyncio.Queue()

    def read() -> None:
        while True:
            line = sys.stdin.readline()
            loop.call_soon_threadsafe(queue.put_nowait, line if line else None)
            if not line:
                return

    threading.Thread(target=read, daemon=True).start()
    return queue
