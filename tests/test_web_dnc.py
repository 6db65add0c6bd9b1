"""The do-not-call list over HTTP: list, add (admin), remove (admin), formula-safe CSV export."""

from __future__ import annotations

import csv
import io

from dialer.store.connect import open_run_log
from dialer.store.dnc import list_numbers

from .webapp import auth, client


def test_add_list_remove(project):
    with client(project) as c:
        res = c.post(
            "/api/dnc",
            json={"numbers": ["+1 201-555-0123", "(212) 555-0199", "12"], "reason": "asked"},
            headers=auth(),
        )
        assert res.status_code == 200
        assert res.json() == {"ok": True, "added": 2, "already": 0, "invalid": ["12"]}
        again = c.post("/api/dnc", json={"numbers": ["2015550123"]}, headers=auth()).json()
        assert (again["added"], again["already"]) == (0, 1)
        res = c.post("/api/dnc", json={"numbers": ["nope"]}, headers=auth())
        assert res.status_code == 422 and res.json()["invalid"] == ["nope"]
        res = c.post("/api/dnc", json={"numbers": []}, headers=auth())
        assert res.status_code == 422

        listed = c.get("/api/dnc", headers=auth("viewer")).json()
        assert listed["count"] == 2
        assert {n["phone"] for n in listed["numbers"]} == {"+12015550123", "+12125550199"}
        assert {n["source"] for n in listed["numbers"]} == {"api"}
        assert {n["reason"] for n in listed["numbers"]} == {"asked"}

        assert c.delete("/api/dnc/%2B12015550123", headers=auth()).json() == {
            "ok": True,
            "removed": 1,
        }
        assert c.delete("/api/dnc/%2B12015550123", headers=auth()).status_code == 404
        assert c.delete("/api/dnc/2125550199", headers=auth()).json()["removed"] == 1  # US
        assert c.delete("/api/dnc/letters", headers=auth()).status_code == 400
        assert c.delete("/api/dnc/2125550199", headers=auth("operator")).status_code == 403
        assert c.get("/api/dnc", headers=auth()).json()["count"] == 0

        c.post("/api/dnc", json={"numbers": ["+44 20 7946 0958"]}, headers=auth())
    con = open_run_log(project / "runs" / "dialer.duckdb")  # written to the run log itself
    try:
        assert [n["phone"] for n in list_numbers(con)] == ["+442079460958"]
    finally:
        con.close()


def test_dnc_csv_export_neutralises_formulas(project):
    with client(project) as c:
        c.post(
            "/api/dnc",
            json={"numbers": ["+12015550123"], "reason": "=cmd|' /C calc'!A0"},
            headers=auth(),
        )
        res = c.get("/api/dnc", params={"format": "csv"}, headers=auth("viewer"))
        assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(res.text)))
        assert rows[0] == ["phone", "added_at", "source", "reason", "campaign"]
        assert rows[1][0] == "'+12015550123"
        assert rows[1][3] == "'=cmd|' /C calc'!A0"
