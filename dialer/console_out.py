"""Terminal output for render, plan and diff: what a person reads, built from library results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from dialer.plan import STAGE_LABELS, Plan
from dialer.render import STAGE_WORDS, RenderResult


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def print_render(result: RenderResult) -> None:
    out = _console()
    lead = result.lead
    who = lead.get("prospect_name") or lead.get("key") or ""
    out.print(
        f"[bold]{result.campaign}[/] revision {result.revision} · lead row {lead.get('row')} "
        f"{who} {lead.get('phone', '')} ({lead.get('timezone') or 'no timezone'})"
    )
    out.print(f"status: {STAGE_WORDS.get(result.stage, result.stage)}")
    if result.assigned_variant:
        out.print(f"this lead is assigned variant: {result.assigned_variant}")
    for r in result.rendered:
        title = f"variant {r.variant}" if r.variant else "agent"
        out.rule(f"{title} · voice {r.voice} · temperature {r.temperature}")
        out.print("[bold]opening[/]")
        out.print(r.opening, markup=False)
        out.print("[bold]instructions[/]")
        out.print(r.instructions.rstrip("\n"), markup=False)
        if r.voicemail:
            out.print("[bold]voicemail[/]")
            out.print(r.voicemail, markup=False)
    out.file.flush()


def print_plan(plan: Plan) -> None:
    out = _console()
    out.print(
        f"[bold]{plan.campaign}[/] revision {plan.revision} · plan at {plan.at:%Y-%m-%d %H:%M} UTC"
    )
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("stage")
    table.add_column("leads", justify="right")
    for key, value in plan.counts.items():
        table.add_row(STAGE_LABELS.get(key, key), f"{value:,}")
    table.add_row("[bold]callable (now or later)[/]", f"[bold]{plan.callable:,}[/]")
    out.print(table)
    if not plan.leads:
        out.print("no callable leads")
        return
    leads = Table(show_header=True, header_style="bold", box=None)
    for col in ("#", "row", "name", "phone", "attempts", "next call (lead-local)", "state"):
        leads.add_column(col)
    for lead in plan.leads:
        leads.add_row(
            str(lead.order),
            str(lead.row),
            lead.name or "",
            lead.phone,
            str(lead.attempts),
            lead.next_local or "-",
            lead.state.replace("_", " "),
        )
    out.print(leads)
    if plan.callable > len(plan.leads):
        out.print(f"… and {plan.callable - len(plan.leads):,} more (--show N)")


def print_diff(result) -> None:
    out = _console()
    out.print(
        f"[bold]{result.campaign}[/]: {result.rev} ({result.old_revision}) → working tree "
        f"({result.new_revision})"
    )
    if result.note:
        out.print(result.note)
    out.rule("settings")
    if result.settings:
        for line in result.settings:
            out.print(f"- {line}", markup=False)
    else:
        out.print("no settings changed")
    out.rule(f"prompts for lead row {result.sample_row}" if result.sample_row else "prompts")
    if result.prompt_diff:
        for line in result.prompt_diff.splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            out.print(line, style=style, markup=False)
    else:
        out.print("rendered prompts unchanged")
    out.rule("leads")
    d = result.leads
    out.print(
        f"selected: {d['before']:,} → {d['after']:,} ({d['entering']:,} enter, "
        f"{d['leaving']:,} leave)"
    )
    for label, key in (("enter", "entering_examples"), ("leave", "leaving_examples")):
        for ex in d[key]:
            out.print(
                f"  {label}: row {ex['row']} {ex.get('name') or ''} {ex['phone']}", markup=False
            )


def print_report(report) -> None:
    out = _console()
    t = report.totals
    out.print(
        f"[bold]{report.campaign or 'all campaigns'}[/]"
        + (f" · run {report.run_id}" if report.run_id else "")
    )

    def pct(v):
        return "-" if v is None else f"{v:.1%}"

    out.print(
        f"dials {t['dials']} · connect {pct(t['connect_rate'])} · voicemail "
        f"{pct(t['voicemail_rate'])} · avg talk {t['avg_talk_s'] or 0:.0f}s · completion "
        f"{pct(t['completion_rate'])} · conversion {pct(t['conversion_rate'])}"
    )
    if report.dispositions:
        out.print("dispositions: " + ", ".join(f"{k} {v}" for k, v in report.dispositions.items()))
    if report.progress:
        p = report.progress
        waiting = p.get("waiting_retry", 0)
        callable_ = p.get("callable_now", 0) + p.get("outside_window", 0)
        never = sum(
            p.get(k, 0)
            for k in ("invalid_phone", "duplicate", "suppressed", "no_timezone", "no_window")
        )
        out.print(
            f"lead list: done {p.get('done', 0)} · waiting retry {waiting} · exhausted "
            f"{p.get('exhausted', 0)} · still to call {callable_} · never callable {never}"
        )
    for title, rows in (("by revision", report.by_revision), ("by variant", report.by_variant)):
        if not rows:
            continue
        table = Table(title=title, box=None, header_style="bold", title_justify="left")
        for col in ("key", "dials", "connect", "voicemail", "avg talk", "conversion"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                str(r["key"]),
                str(r["dials"]),
                pct(r["connect_rate"]),
                pct(r["voicemail_rate"]),
                f"{r['avg_talk_s'] or 0:.0f}s",
                pct(r["conversion_rate"]),
            )
        out.print(table)
