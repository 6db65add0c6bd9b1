"""The run log over HTTP: runs, attempts and transcripts of a real `dialer run`, and reports."""

from __future__ import annotations

from .webapp import auth, client, simulated_run


def test_runs_attempts_and_transcripts_of_a_real_run(project):
    summary = simulated_run()
    assert summary["dialed"] > 10
    with client(project) as c:
        h = auth("viewer")
        runs = c.get("/api/runs", headers=h).json()["runs"]
        assert [r["run_id"] for r in runs] == [summary["run_id"]]
        assert runs[0]["dials"] == summary["dialed"] and runs[0]["campaign"] == "Example outreach"

        run = c.get(f"/api/runs/{summary['run_id']}", headers=h).json()["run"]
        assert run["status"] == "completed" and run["backend"] == "simulate"
        assert run["statuses"] == summary["statuses"]
        assert run["dispositions"] == summary["dispositions"]
        assert run["options"]["virtual_time"] is True
        assert c.get("/api/runs/nope", headers=h).status_code == 404

        everything = c.get("/api/attempts", params={"run": summary["run_id"]}, headers=h).json()
        assert everything["total"] == summary["dialed"] == len(everything["attempts"])
        dialed = [a["dialed_at"] for a in everything["attempts"]]
        assert dialed == sorted(dialed, reverse=True)  # newest first
        window = c.get("/api/attempts", params={"limit": 3, "offset": 2}, headers=h).json()
        assert [a["attempt_id"] for a in window["attempts"]] == [
            a["attempt_id"] for a in everything["attempts"][2:5]
        ]
        completed = c.get("/api/attempts", params={"status": "completed"}, headers=h).json()
        assert completed["total"] == summary["statuses"]["completed"]
        assert all(a["has_transcript"] for a in completed["attempts"])
        other = c.get("/api/attempts", params={"campaign": "Other"}, headers=h).json()
        assert other["total"] == 0

        attempt = completed["attempts"][0]
        res = c.get(f"/api/attempts/{attempt['attempt_id']}/transcript", headers=h)
        body = res.json()
        assert body["attempt"]["attempt_id"] == attempt["attempt_id"]
        lines = body["lines"]
        assert [line["seq"] for line in lines] == list(range(len(lines)))
        assert lines[0]["role"] == "agent" and "this is Sam from Demandify" in lines[0]["text"]
        assert c.get("/api/attempts/nope/transcript", headers=h).status_code == 404


def test_report_of_a_campaign(project):
    summary = simulated_run()
    with client(project) as c:
        h = auth("viewer")
        report = c.get("/api/reports/example", headers=h).json()["report"]
        assert report["campaign"] == "Example outreach"
        assert report["totals"]["dials"] == summary["dialed"]
        assert report["totals"]["connected"] == summary["statuses"]["completed"]
        assert report["dispositions"] == summary["dispositions"]
        assert report["progress"]["source_rows"] == 24
        assert [r["key"] for r in report["by_run"]] == [summary["run_id"]]

        by_name = c.get("/api/reports/Example outreach", headers=h).json()["report"]
        assert by_name["totals"] == report["totals"] and by_name["progress"] is None
        one_run = c.get("/api/reports/example", params={"run": "other"}, headers=h).json()
        assert one_run["report"]["totals"]["dials"] == 0

        page = c.get("/api/reports/example", params={"format": "html"}, headers=h)
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Example outreach</h1>" in page.text
        assert c.get("/api/reports/nothing", headers=h).status_code == 404
