"""Text conversations with a campaign's agent, shared by `dialer chat` and `dialer test`.

The agent is the one the worker runs on a call (`build_agent`: the lead's rendered
instructions, the same tools, the opening asked for the same way), in a text-only
`AgentSession` around a text model instead of the realtime voice model. Nothing is dialed and
nothing is written to the run log: the tools record into a `CallState` that is shown, not
reported.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dialer.errors import DialerError
from dialer.livekit.spec import CallSpec

# --llm PROVIDER[:MODEL]: the livekit plugin that provides it, its key, and its package
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "google": ("livekit.plugins.google", "GOOGLE_API_KEY", "livekit-plugins-google"),
    "openai": ("livekit.plugins.openai", "OPENAI_API_KEY", "livekit-plugins-openai"),
    "anthropic": ("livekit.plugins.anthropic", "ANTHROPIC_API_KEY", "livekit-plugins-anthropic"),
    "groq": ("livekit.plugins.groq", "GROQ_API_KEY", "livekit-plugins-groq"),
    "mistralai": ("livekit.plugins.mistralai", "MISTRAL_API_KEY", "livekit-plugins-mistralai"),
}
DEFAULT_PROVIDER = "google"
_REPLY_TIMEOUT_S = 120.0  # one turn of a real model, tools included


def text_llm(choice: str | None, env: Mapping[str, str], temperature: float | None = None):
    """The text model for `--llm PROVIDER[:MODEL]` (default: Gemini through the google plugin)."""
    provider, _, model = (choice or DEFAULT_PROVIDER).partition(":")
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise DialerError(
            f"--llm: unknown provider {provider!r}",
            hint=f"one of {', '.join(PROVIDERS)}, optionally with :MODEL (google:gemini-2.5-flash)",
        )
    module_name, key_name, package = PROVIDERS[provider]
    key = env.get(key_name, "").strip()
    if not key:
        raise DialerError(
            f"{key_name} is not set: the conversation needs the {provider} model",
            hint="set it in the environment or the project's .env",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise DialerError(
            f"--llm {provider}: its LiveKit plugin is not installed", hint=f"pip install {package}"
        ) from None
    kwargs: dict[str, Any] = {"api_key": key}
    if model:
        kwargs["model"] = model
    if temperature is not None:
        kwargs["temperature"] = temperature
    try:
        return module.LLM(**kwargs)
    except TypeError:  # a plugin without a temperature setting
        kwargs.pop("temperature", None)
        return module.LLM(**kwargs)


@dataclass
class ChatTarget:
    """Who the agent talks to, and the call spec the worker would get for them."""

    revision: Any  # dialer.runner.run.Revision
    lead: dict[str, Any]
    stage: str  # where the lead stands in the selection ("selected", "suppressed", ...)
    spec: CallSpec

    @property
    def files(self) -> list[Path]:
        """The campaign file and its prompt files (what `--watch` watches)."""
        loaded = self.revision.loaded
        return [Path(loaded.path), *(Path(f) for f in loaded.files)]


def chat_target(
    campaign: Path,
    row: int | None = None,
    phone: str | None = None,
    variant: str | None = None,
    fields: Mapping[str, Any] | None = None,
    run_log: Path | None = None,
) -> ChatTarget:
    """Load the campaign and render its agent for one lead: source `row`, `phone`, or `fields`
    (an inline lead, as a scenario may give one). An invalid campaign raises CampaignInvalid."""
    from dialer.render import find_lead
    from dialer.runner.run import load_revision

    rev = load_revision(Path(campaign))
    loaded, prompts = rev.loaded, rev.prompts
    if fields is not None:
        lead, stage = _inline_lead(loaded, fields), "inline"
    else:
        lead, stage = find_lead(loaded, row, phone, run_log)
    names = prompts.variant_names
    if variant is not None and variant not in names:
        raise DialerError(
            f"no variant {variant!r}; the campaign has: {', '.join(map(str, names))}",
            field="variant",
        )
    if variant is None and lead.get("key"):
        variant = prompts.choose_variant(lead["key"])
    zone = ZoneInfo(lead["timezone"]) if lead.get("timezone") else UTC
    rendered = prompts.render(lead, datetime.now(zone), variant)
    campaign_ = loaded.campaign
    spec = CallSpec(
        attempt_id="chat",
        campaign=campaign_.name,
        phone=lead.get("phone") or "",
        instructions=rendered.instructions,
        opening=rendered.opening,
        report_url="",
        transfer_to=campaign_.telephony.transfer_to or "",
        lead_timezone=lead.get("timezone") or "",
        voice=rendered.voice,
        model=campaign_.agent.model or "",
        temperature=rendered.temperature,
        max_call_duration=campaign_.pacing.max_call_duration.total_seconds(),
        dispositions=list(campaign_.disposition_names),
        voicemail=rendered.voicemail,
        recording=campaign_.recording.enabled,
        noise_cancellation=False,
        variant=rendered.variant,
        revision=loaded.revision,
    )
    return ChatTarget(rev, lead, stage, spec)


def _inline_lead(loaded: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A lead given as fields: its phone normalised and its timezone known, as selection does."""
    from dialer.phones import normalize_phone, timezones_for_phone

    lead = {str(k): ("" if v is None else v) for k, v in fields.items()}
    raw = str(lead.get("phone", ""))
    e164 = normalize_phone(raw, loaded.campaign.leads.default_region) if raw else None
    if raw and e164 is None:
        raise DialerError(f"lead.phone: not a valid phone number: {raw!r}", field="lead.phone")
    lead["phone"] = e164 or ""
    lead["key"] = e164
    lead.setdefault("row", 0)
    zones = [lead["timezone"]] if lead.get("timezone") else []
    if not zones and e164:
        zones = list(timezones_for_phone(e164))
    lead["timezones"] = zones
    lead["timezone"] = zones[0] if zones else ""
    return lead


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    output: str | None = None


@dataclass
class Turn:
    """What happened after one user message (or, for the opening, `user` None)."""

    user: str | None
    # in order: ("say", text) for each reply, ("tool", ToolCall) for each tool call
    events: list[tuple[str, Any]] = field(default_factory=list)
    ended: bool = False  # the agent ended the call (end_call, opt_out, transfer, voicemail)
    result: Any = None  # the livekit RunResult of a user turn (for `dialer test` assertions)

    @property
    def replies(self) -> list[str]:
        return [v for k, v in self.events if k == "say"]

    @property
    def tools(self) -> list[ToolCall]:
        return [v for k, v in self.events if k == "tool"]

    @property
    def reply(self) -> str:
        return "\n".join(self.replies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "replies": self.replies,
            "tools": [t.__dict__ for t in self.tools],
            "ended": self.ended,
        }


class Conversation:
    """One text conversation with the campaign's agent; `async with` opens and closes it."""

    def __init__(self, spec: CallSpec, llm: Any) -> None:
        from dialer.agent.state import CallState

        self.spec = spec
        self.llm = llm
        self.state = CallState(spec=spec, room="chat", sip_identity="chat")
        self.session: Any = None
        self._closed: asyncio.Future | None = None
        self.turns: list[Turn] = []
        # called with ("say", text) and ("tool", ToolCall) as they happen (a live view)
        self.on_event: Any = None

    async def __aenter__(self) -> Conversation:
        from livekit.agents import AgentSession

        from dialer.agent.conversation import build_agent, watch_session

        self.session = AgentSession(llm=self.llm, vad=None)
        await self.session.__aenter__()
        self._closed = watch_session(self.session, self.state)
        self.session.on("conversation_item_added", self._item_added)
        self.session.on("function_tools_executed", self._tools_executed)
        await self.session.start(build_agent(self.spec, self.state, _ChatControl()))
        return self

    def _item_added(self, ev: Any) -> None:
        item = ev.item
        if self.on_event and getattr(item, "role", None) == "assistant" and item.text_content:
            self.on_event("say", item.text_content)

    def _tools_executed(self, ev: Any) -> None:
        if self.on_event:
            for call, out in ev.zipped():
                self.on_event("tool", ToolCall(call.name, _args(call), out.output if out else None))

    async def __aexit__(self, *exc: Any) -> None:
        if self.session is not None:
            await self.session.__aexit__(*exc)
            self.session = None

    @property
    def ended(self) -> bool:
        return self._closed is not None and self._closed.done()

    async def opening(self) -> Turn:
        """The agent's first words, asked for as the worker asks for them."""
        from dialer.agent.conversation import opening_instructions

        mark = len(self.session.history.items)
        handle = self.session.generate_reply(instructions=opening_instructions(self.spec))
        await asyncio.wait_for(handle.wait_for_playout(), _REPLY_TIMEOUT_S)
        turn = Turn(user=None)
        _collect(turn, self.session.history.items[mark:])
        await self._settle(turn)
        self.turns.append(turn)
        return turn

    async def say(self, text: str) -> Turn:
        """The person says `text`; the agent's replies and tool calls come back."""
        if self.ended:
            raise DialerError("the agent has ended the call", hint="/reset starts a new one")
        mark = len(self.session.history.items)
        result = await asyncio.wait_for(self.session.run(user_input=text), _REPLY_TIMEOUT_S)
        turn = Turn(user=text, result=result)
        _collect(turn, self.session.history.items[mark:])
        await self._settle(turn)
        self.turns.append(turn)
        return turn

    async def _settle(self, turn: Turn) -> None:
        """An ending tool closes the session once its reply is out: wait briefly for that."""
        if self.state.end_reason and self._closed is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._closed), 5)
            except TimeoutError:
                pass
        turn.ended = self.ended


def _collect(turn: Turn, items: list[Any]) -> None:
    """The turn's replies and tool calls, in order, from the chat history items it added."""
    outputs = {getattr(i, "call_id", None): i for i in items if i.type == "function_call_output"}
    for item in items:
        if item.type == "message" and item.role == "assistant" and item.text_content:
            turn.events.append(("say", item.text_content))
        elif item.type == "function_call":
            out = outputs.get(item.call_id)
            call = ToolCall(item.name, _args(item), out.output if out is not None else None)
            turn.events.append(("tool", call))


def _args(call: Any) -> dict[str, Any]:
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        return {"_raw": call.arguments}
    return args if isinstance(args, dict) else {"_value": args}


class _ChatControl:
    """The call controls a text conversation has: a transfer succeeds (nobody is dialed)."""

    async def transfer_sip_participant(self, request: Any) -> Any:
        from livekit import api

        return api.TransferSIPParticipantResponse(
            status=api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL
        )

    async def create_sip_participant(self, request: Any) -> Any:  # never called in a chat
        raise DialerError("a chat does not dial")

    async def delete_room(self, room: str) -> None:
        return None

    async def start_audio_recording(self, room: str, filepath: str) -> str:
        return ""
