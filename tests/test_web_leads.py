"""A campaign's leads a page at a time over HTTP, each with its plan status."""

from __future__ import annotations

import json

from .conftest import MINIMAL, cli, write_campaign
from .webapp import auth, client, simulated_run

AT = "2026-11-23T15:00:00Z"  # Monday 10:00 in New York, 07:00 in Los Angeles
EVERY_ROW = MINIMAL + "suppress: [../leads/dnc.csv]\n"  # every row of leads/sample.csv


def page(c, name="c", **params):
    res = c.get(f"/api/campaigns/{name}/leads", params={"at": AT, **params}, headers=auth("viewer"))
    assert res.status_code == 200, res.text
    return res.json()


def test_pages_of_leads_with_why_each_is_callable_or_not(project):
    write_campaign(project, EVERY_ROW)
    with client(project) as c:
        first = page(c, size=10)
        assert (first["total"], first["pages"], first["page"], first["size"]) == (24, 3, 1, 10)
        assert [lead["row"] for lead in first["leads"]] == list(range(1, 11))
        by_row = {x["row"]: x for p in (1, 2, 3) for x in page(c, size=10, page=p)["leads"]}
        assert len(by_row) == 24

        avery = by_row[1]
        assert (avery["state"], avery["callable"], avery["attempts"]) == ("callable_now", True, 0)
        assert avery["name"] == "Avery Johnson" and avery["phone"] == "+12015550123"
        assert avery["next_local"] == "mon 2026-11-23 10:00 EST"
        assert avery["fields"]["company_name"] == "Northwind Analytics"
        devon = by_row[4]  # Los Angeles: 07:00 there
        assert devon["state"] == "outside_window" and devon["callable"]
        assert devon["next_local"] == "mon 2026-11-23 09:00 PST"
        assert devon["next_at"] == "2026-11-23T17:00:00+00:00"
        for row, state, reason in [
            (12, "invalid_phone", "invalid phone number"),
            (13, "duplicate", "duplicate phone number"),
            (15, "suppressed", "suppressed (DNC)"),
            (19, "no_window", "no calling window left"),
        ]:
            lead = by_row[row]
            assert (lead["state"], lead["reason"], lead["callable"]) == (state, reason, False)
            assert lead["next_at"] is None
        assert first["counts"]["invalid_phone"] == 1 and first["callable"] == 20
        assert sum(x["callable"] for x in by_row.values()) == 20

        assert page(c, size=10, page=4)["leads"] == []
        ordered = page(c, size=5, sort="order", callable="true")
        assert ordered["total"] == 20 and all(x["callable"] for x in ordered["leads"])
        assert [lead["order"] for lead in ordered["leads"]] == [1, 2, 3, 4, 5]


def test_lead_status_is_the_plan_of_dialer_plan_after_a_run(project):
    simulated_run()
    later = "2026-11-24T16:30:00Z"
    planned = cli("plan", "campaigns/example.yaml", "--json", "--at", later, "--show", "100")
    assert planned.exit_code == 0, planned.stderr
    plan = json.loads(planned.stdout)
    with client(project) as c:
        body = page(c, "example", at=later, sort="order", callable="true", size=500)
        assert body["counts"] == plan["counts"]
        assert body["counts"]["done"] > 0  # the run left history behind
        assert [
            (x["row"], x["state"], x["attempts"], x["next_at"], x["next_local"])
            for x in body["leads"]
        ] == [
            (x["row"], x["state"], x["attempts"], x["next_at"], x["next_local"])
            for x in plan["leads"]
        ]
        everyone = page(c, "example", at=later, size=500)["leads"]
        assert {x["state"] for x in everyone} >= {"done", "duplicate", "suppressed"}
        assert all(x["attempts"] >= 1 for x in everyone if x["state"] == "done")


def test_a_number_added_to_dnc_through_the_api_is_suppressed_at_once(project):
    write_campaign(project, MINIMAL)
    with client(project) as c:
        assert page(c)["leads"][0]["state"] == "callable_now"
        c.post("/api/dnc", json={"numbers": ["201-555-0123"]}, headers=auth())
        lead = page(c)["leads"][0]
        assert (lead["row"], lead["state"], lead["callable"]) == (1, "suppressed", False)


def test_lead_page_errors(project):
    write_campaign(project, MINIMAL.replace("../leads/sample.csv", "../leads/gone.csv"))
    with client(project) as c:
        res = c.get("/api/campaigns/c/leads", headers=auth())
        assert res.status_code == 422 and "lead source not found" in res.json()["error"]
        assert c.get("/api/campaigns/zz/leads", headers=auth()).status_code == 404
        res = c.get("/api/campaigns/example/leads", params={"size": 501}, headers=auth())
        assert res.status_code == 422 and res.json()["errors"][0]["field"] == "query.size"
