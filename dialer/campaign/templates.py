"""Prompt templates: compiled once per campaign revision, rendered per lead in the lead's time."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from dialer.campaign.load import LoadedCampaign, TemplateSource
from dialer.errors import DialerError, Location

# The legacy Agentic Dialer's prompt modules used bracket placeholders; they keep working.
LEGACY_PLACEHOLDERS = {
    "[Prospect Name]": "lead.prospect_name",
    "[Company Name]": "lead.company_name",
    "[Job Title]": "lead.job_title",
    "[Resource Name]": "lead.resource_name",
    "[____@abc.com]": "lead.email",
}
_LEGACY_RE = re.compile("|".join(re.escape(k) for k in LEGACY_PLACEHOLDERS))
# The legacy agent's "Lead Context" block, in its field order.
LEAD_CONTEXT_FIELDS = (
    ("prospect_name", "Prospect Name"),
    ("company_name", "Company Name"),
    ("job_title", "Job Title"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("timezone", "Timezone"),
    ("resource_name", "Resource Name"),
)


_JINJA_OPEN = re.compile(r"\{[{%#]")


def escape_jinja(text: str) -> str:
    """Plain text as a template that renders to itself: `{{`, `{%` and `{#` become Jinja
    string expressions (`{{ '{{' }}`); the `[Prospect Name]` placeholders are left to work.
    For text from the legacy system, which had no templates."""
    return _JINJA_OPEN.sub(lambda m: "{{ '" + m.group(0) + "' }}", text)


class Lead(dict):
    """A lead row as templates see it: `lead.prospect_name` or `lead['Full Name']`."""


class Vars(dict):
    """The campaign's `vars` as templates see them."""


class _Undefined(StrictUndefined):
    """StrictUndefined whose message names the variable the way the template wrote it."""

    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, Lead):
            return f"lead.{self._undefined_name} is undefined (no such lead column)"
        if isinstance(self._undefined_obj, Vars):
            return f"vars.{self._undefined_name} is undefined (not in the campaign's vars)"
        if self._undefined_obj is not None and self._undefined_name is not None:
            owner = type(self._undefined_obj).__name__
            return f"{owner} has no attribute {self._undefined_name!r}"
        return super()._undefined_message


def legacy_to_jinja(text: str) -> str:
    """Rewrite `[Prospect Name]`-style placeholders as Jinja expressions (same line count)."""
    return _LEGACY_RE.sub(lambda m: "{{ " + LEGACY_PLACEHOLDERS[m.group(0)] + " }}", text)


def lead_context_block(lead: Mapping[str, Any], now: datetime | None = None) -> str:
    """The structured block the legacy agent appended so the model knows who it is calling."""
    lines = ["", "## Lead Context"]
    for key, label in LEAD_CONTEXT_FIELDS:
        value = lead.get(key)
        if value not in (None, ""):
            lines.append(f"- {label}: {value}")
    if now is not None:
        lines.append(f"- Lead local time: {now:%A %Y-%m-%d %H:%M %Z}")
    return "\n".join(lines) + "\n"


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=_Undefined, autoescape=False, keep_trailing_newline=True, trim_blocks=True
    )
    return env


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line an exception was raised at (Jinja rewrites tracebacks to name it)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass(frozen=True)
class Rendered:
    """A lead's prompts, ready for the agent."""

    variant: str | None
    instructions: str
    opening: str
    voicemail: str | None
    voice: str
    temperature: float


@dataclass(frozen=True)
class LeadColumnRef:
    """A `lead.X` reference found in a template, for the column-exists check."""

    column: str
    template: str
    location: Location


class Prompts:
    """Every template of one campaign revision, compiled once."""

    def __init__(self, loaded: LoadedCampaign) -> None:
        self.loaded = loaded
        self.campaign = loaded.campaign
        self._env = _environment()
        self._vars = Vars(self.campaign.vars)
        self._compiled: dict[str, Any] = {}
        self._sources: dict[str, TemplateSource] = dict(loaded.templates)
        self._asts: dict[str, nodes.Template] = {}
        errors: list[DialerError] = []
        for label, source in self._sources.items():
            text = legacy_to_jinja(source.text)
            try:
                ast = self._env.parse(text, name=label, filename=label)
                code = self._env.compile(ast, name=label, filename=label)
                self._asts[label] = ast
                # Globals as a plain dict, not Jinja's ChainMap: every render copies them, and
                # a dict copies several times faster (a forecast renders 100,000s of openings).
                self._compiled[label] = self._env.template_class.from_code(
                    self._env, code, dict(self._env.make_globals(None)), None
                )
            except TemplateSyntaxError as exc:
                errors.append(
                    DialerError(
                        f"template syntax error: {exc.message}",
                        self._location(label, exc.lineno),
                        field=label,
                    )
                )
        if errors:
            from dialer.errors import CampaignInvalid

            raise CampaignInvalid(errors)
        weights = [v.weight for v in self.campaign.variants]
        total = sum(weights)
        self._cumulative = []
        acc = 0.0
        for w in weights:
            acc += w / total
            self._cumulative.append(acc)

    def _location(self, label: str, template_line: int | None) -> Location:
        source = self._sources[label]
        if template_line is None:
            return Location(source.path, source.line_offset + 1 if source.line_offset else 1)
        return Location(source.path, source.line_offset + template_line)

    @property
    def variant_names(self) -> list[str | None]:
        return [v.name for v in self.campaign.variants] or [None]

    def choose_variant(self, lead_key: str) -> str | None:
        """The lead's variant: fixed for a lead across runs and revisions, weighted."""
        if not self.campaign.variants:
            return None
        digest = hashlib.sha256(f"{self.campaign.name}\0{lead_key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        for variant, edge in zip(self.campaign.variants, self._cumulative, strict=True):
            if point < edge:
                return variant.name
        return self.campaign.variants[-1].name

    def _label(self, field: str, variant: str | None) -> str | None:
        if variant is not None and f"variants.{variant}.{field}" in self._compiled:
            return f"variants.{variant}.{field}"
        return f"agent.{field}" if f"agent.{field}" in self._compiled else None

    def lead_column_refs(self) -> list[LeadColumnRef]:
        """Every `lead.X` / `lead['X']` the templates read (legacy placeholders included)."""
        refs: list[LeadColumnRef] = []
        for label, ast in self._asts.items():
            for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
                target = node.node
                if not (isinstance(target, nodes.Name) and target.name == "lead"):
                    continue
                if isinstance(node, nodes.Getattr):
                    column = node.attr
                elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                    column = node.arg.value
                else:
                    continue
                refs.append(LeadColumnRef(column, label, self._location(label, node.lineno)))
        return refs

    def render_one(self, label: str, context: dict[str, Any], row: int | None) -> str:
        try:
            return self._compiled[label].render(context)
        except UndefinedError as exc:
            where = f" (lead row {row})" if row is not None else ""
            raise DialerError(
                f"{label}: {exc.message}{where}",
                self._location(label, _template_line(exc, label)),
                "check the column name and leads.columns, or guard it with {% if %}",
            ) from None
        except SecurityError as exc:
            raise DialerError(
                f"{label}: not allowed in a template: {exc}",
                self._location(label, _template_line(exc, label)),
            ) from None
        except Exception as exc:  # a template bug (e.g. a filter on a wrong type) is user input
            raise DialerError(
                f"{label}: {type(exc).__name__}: {exc}",
                self._location(label, _template_line(exc, label)),
            ) from None

    def _context(self, lead: Lead, now: datetime) -> dict[str, Any]:
        campaign = {"name": self.campaign.name, "description": self.campaign.description}
        return {"lead": lead, "vars": self._vars, "campaign": campaign, "now": now}

    def render_text(
        self, field: str, lead: Mapping[str, Any], now: datetime, variant: str | None = None
    ) -> str | None:
        """One rendered template ('opening', 'voicemail' or 'instructions' without the
        Lead Context block); None when the campaign has no such template."""
        label = self._label(field, variant)
        if label is None:
            return None
        lead_obj = lead if isinstance(lead, Lead) else Lead(lead)
        context = self._context(lead_obj, now)
        return self.render_one(label, context, lead_obj.get("row")).strip()

    def render(
        self, lead: Mapping[str, Any], now: datetime, variant: str | None = None
    ) -> Rendered:
        """The lead's rendered prompts (for the given variant, or the base agent)."""
        lead_obj = lead if isinstance(lead, Lead) else Lead(lead)
        context = self._context(lead_obj, now)
        row = lead_obj.get("row")
        out: dict[str, str | None] = {}
        for field in ("instructions", "opening", "voicemail"):
            label = self._label(field, variant)
            out[field] = self.render_one(label, context, row) if label else None
        instructions = out["instructions"] or ""
        if self.campaign.agent.lead_context:
            instructions = instructions.rstrip("\n") + "\n" + lead_context_block(lead_obj, now)
        spec = next((v for v in self.campaign.variants if v.name == variant), None)
        voice = (spec.voice if spec and spec.voice else None) or self.campaign.agent.voice
        temperature = (
            spec.temperature
            if spec and spec.temperature is not None
            else self.campaign.agent.temperature
        )
        return Rendered(
            variant=variant,
            instructions=instructions,
            opening=(out["opening"] or "").strip(),
            voicemail=out["voicemail"].strip() if out["voicemail"] else None,
            voice=voice,
            temperature=temperature,
        )
