"""Campaign results from the run log: rates per run, revision and variant, and lead progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

# One definition of every rate, used for the totals and for each breakdown.
_METRICS = """
    count(*) AS dials,
    count(*) FILTER (WHERE status = 'completed') AS connected,
    count(*) FILTER (WHERE status = 'voicemail') AS voicemail,
    count(*) FILTER (WHERE status IN ('busy', 'no_answer')) AS unanswered,
    count(*) FILTER (WHERE status IN ('failed', 'invalid_number', 'unknown', 'canceled'))
        AS not_completed,
    count(*) FILTER (WHERE disposition IS NOT NULL) AS with_disposition,
    count(*) FILTER (WHERE disposition IN (SELECT unnest(?::VARCHAR[]))) AS conversions,
    avg(duration_s) FILTER (WHERE status = 'completed') AS avg_talk_s
"""


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    dials = row["dials"] or 0
    connected = row["connected"] or 0

    def share(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    row.update(
        connect_rate=share(connected, dials),
        voicemail_rate=share(row["voicemail"], dials),
        completion_rate=share(dials - row["not_completed"], dials),
        conversion_rate=share(row["conversions"], connected),
        avg_talk_s=round(row["avg_talk_s"], 1) if row["avg_talk_s"] is not None else None,
    )
    return row


@dataclass
class Report:
    """What `dialer report` shows."""

    campaign: str | None
    run_id: str | None
    totals: dict[str, Any]
    dispositions: dict[str, int]
    by_run: list[dict[str, Any]] = field(default_factory=list)
    by_revision: list[dict[str, Any]] = field(default_factory=list)
    by_variant: list[dict[str, Any]] = field(default_factory=list)
    progress: dict[str, int] | None = None
    series: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _filter(campaign: str | None, run_id: str | None) -> tuple[str, list[Any]]:
    clauses, params = ["status <> 'dialing'"], []
    if campaign:
        clauses.append("campaign = ?")
        params.append(campaign)
    if run_id:
        clauses.append("run_id = ?")
        params.append(run_id)
    return " AND ".join(clauses), params


def _grouped(con, by: str, where: str, params: list, conversions: list[str]) -> list[dict]:
    cur = con.execute(
        f"SELECT {by} AS key, {_METRICS} FROM attempts WHERE {where} GROUP BY 1 ORDER BY 1",
        [conversions, *params],
    )
    names = [d[0] for d in cur.description]
    return [_rates(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def build_report(
    con: duckdb.DuckDBPyConnection,
    campaign: str | None = None,
    run_id: str | None = None,
    conversions: list[str] | None = None,
    progress: dict[str, int] | None = None,
) -> Report:
    """Aggregate the attempts of a campaign (or run, or everything) into a Report."""
    conversions = conversions if conversions is not None else ["meeting_booked"]
    where, params = _filter(campaign, run_id)
    cur = con.execute(f"SELECT {_METRICS} FROM attempts WHERE {where}", [conversions, *params])
    names = [d[0] for d in cur.description]
    totals = _rates(dict(zip(names, cur.fetchone(), strict=True)))
    dispositions = dict(
        con.execute(
            f"SELECT disposition, count(*) FROM attempts WHERE {where} AND disposition IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            params,
        ).fetchall()
    )
    report = Report(campaign, run_id, totals, dispositions, progress=progress)
    report.by_run = _grouped(con, "run_id", where, params, conversions)
    report.by_revision = _grouped(con, "revision", where, params, conversions)
    report.by_variant = _grouped(con, "coalesce(variant, '(none)')", where, params, conversions)
    report.series = {
        "by_day": con.execute(
            f"SELECT strftime(date_trunc('day', dialed_at AT TIME ZONE 'UTC'), '%Y-%m-%d'), "
            f"status, count(*) FROM attempts WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
            params,
        ).fetchall(),
        "by_local_hour": con.execute(
            f"SELECT hour(timezone(coalesce(lead_timezone, 'UTC'), dialed_at)) AS h, status, "
            f"count(*) FROM attempts WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
            params,
        ).fetchall(),
    }
    return report


def list_runs(
    con: duckdb.DuckDBPyConnection, campaign: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Run history, newest first, with dial counts."""
    where = "WHERE r.campaign = ?" if campaign else ""
    params = [campaign] if campaign else []
    cur = con.execute(
        f"""SELECT r.run_id, r.campaign, r.status, r.backend, r.revision,
                   strftime(r.started_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS started_at,
                   strftime(r.ended_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS ended_at,
                   count(a.attempt_id) AS dials,
                   count(a.attempt_id) FILTER (WHERE a.status = 'completed') AS connected
            FROM runs r LEFT JOIN attempts a USING (run_id) {where}
            GROUP BY r.run_id, r.campaign, r.status, r.backend, r.revision, r.started_at,
                     r.ended_at
            ORDER BY r.started_at DESC LIMIT {int(limit)}""",
        params,
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def report_html(report: Report) -> str:
    """A self-contained HTML page with the report's tables and charts (plotly, inlined)."""
    import html

    import plotly.graph_objects as go

    def bar_by(series: list, title: str, x_title: str) -> str:
        statuses = sorted({s for _, s, _ in series})
        xs = sorted({x for x, _, _ in series})
        fig = go.Figure()
        for st in statuses:
            counts = {x: n for x, s, n in series if s == st}
            fig.add_bar(name=st, x=xs, y=[counts.get(x, 0) for x in xs])
        fig.update_layout(
            barmode="stack",
            title=title,
            xaxis_title=x_title,
            yaxis_title="dials",
            height=360,
            margin={"t": 50, "b": 40},
        )
        return fig.to_html(full_html=False, include_plotlyjs=False)

    variant_fig = go.Figure()
    keys = [str(v["key"]) for v in report.by_variant]
    for metric in ("connect_rate", "conversion_rate"):
        variant_fig.add_bar(
            name=metric.replace("_", " "), x=keys, y=[v[metric] or 0 for v in report.by_variant]
        )
    variant_fig.update_layout(title="by variant", yaxis_tickformat=".0%", height=360)

    def table(rows: list[dict], cols: list[str]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c), c))}</td>" for c in cols) + "</tr>"
            for r in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    cols = [
        "key",
        "dials",
        "connect_rate",
        "voicemail_rate",
        "avg_talk_s",
        "completion_rate",
        "conversion_rate",
    ]
    from plotly.offline import get_plotlyjs

    title = html.escape(report.campaign or "all campaigns")
    progress = (
        table(
            [{"stage": k, "leads": v} for k, v in (report.progress or {}).items()],
            ["stage", "leads"],
        )
        if report.progress
        else ""
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title} report</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;
margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head>
<body><h1>{title}</h1>
<h2>Totals</h2>{table([report.totals | {"key": "all"}], cols)}
<h2>Dispositions</h2>{
        table(
            [{"disposition": k, "count": v} for k, v in report.dispositions.items()],
            ["disposition", "count"],
        )
    }
{"<h2>Lead list</h2>" + progress if progress else ""}
<h2>By revision</h2>{table(report.by_revision, cols)}
<h2>By variant</h2>{table(report.by_variant, cols)}
{variant_fig.to_html(full_html=False, include_plotlyjs=False)}
{bar_by(report.series["by_day"], "outcomes over time", "day (UTC)")}
{bar_by(report.series["by_local_hour"], "outcomes by hour of the lead's local day", "hour")}
<h2>Runs</h2>{table(report.by_run, cols)}
</body></html>"""


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if column.endswith("_rate"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
