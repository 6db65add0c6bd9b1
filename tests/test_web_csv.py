"""Lead CSV management over HTTP (the legacy /api/agentic/csv/... paths): checked uploads, size
and rate limits, safe names, list/preview/select/delete, formula-safe exports."""

from __future__ import annotations

import csv
import io
import re

import pytest

from dialer.web.csvexport import neutralise_cell, to_csv
from dialer.web.csvfiles import safe_name
from dialer.web.errors import BadInput

from .webapp import auth, client, upload

GOOD = """\
prospect_name,company_name,phone,email
Ana Diaz,Acme,+1 201-555-0123,ana@acme.example
Bo Chen,Initech,(212) 555-0199,bo@initech.example
Cy Park,Hooli,12,cy@hooli.example
Di Rossi,Acme,201.555.0123,di@acme.example
Ed Wu,Globex,,ed@globex.example
"""


def leads_files(project):
    return sorted(p.name for p in (project / "leads").iterdir())


def test_upload_keeps_a_checked_file_and_reports_bad_and_duplicate_numbers(project):
    with client(project) as c:
        res = upload(c, "q4.csv", GOOD)
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["ok"] and body["name"] == body["remote"] == "q4.csv"
        assert (project / "leads" / "q4.csv").read_text() == GOOD
        assert (body["rows"], body["phone_column"], body["valid_numbers"]) == (5, "phone", 2)
        assert body["invalid"] == {
            "count": 2,
            "rows": [{"row": 3, "value": "12"}, {"row": 5, "value": ""}],
        }
        assert body["duplicates"] == {
            "count": 1,
            "rows": [{"row": 4, "phone": "+12015550123", "first_row": 1}],
        }
        assert body["replaced"] is False
        assert upload(c, "q4.csv", GOOD).json()["replaced"] is True
        assert not [n for n in leads_files(project) if n.startswith(".")]  # no temp file left


def test_upload_accepts_a_phone_alias_and_the_region_for_national_numbers(project):
    with client(project) as c:
        res = upload(c, "uk.csv", "Name;Phone Number\nAl;020 7946 0958\n", default_region="GB")
        body = res.json()
        assert res.status_code == 200, body
        assert body["phone_column"] == "Phone Number" and body["valid_numbers"] == 1
        res = upload(c, "uk2.csv", "Name;Phone Number\nAl;020 7946 0958\n")  # read as US
        assert res.json()["invalid"]["count"] == 1


NOT_LEAD_CSV = [
    ("prospect_name,company_name\nAna,Acme\n", "no phone column"),
    ("phone,name\n", "header but no rows"),
    ("", "empty"),
    (bytes(range(256)) * 64, "can not be read as CSV|not valid UTF-8"),
    (b"phone,name\n+12015550123,Jos\xe9\n", "not valid UTF-8"),
]
UNSAFE_NAMES = [
    "../evil.csv",
    "..\\evil.csv",
    "sub/evil.csv",
    ".hidden.csv",
    "leads.txt",
    "leads.csv.exe",
    ".csv",
    "a\x07b.csv",
]


def test_a_file_that_is_not_a_lead_csv_is_refused_and_not_written(project):
    before = leads_files(project)
    with client(project, uploads_per_minute=100) as c:
        for data, reason in NOT_LEAD_CSV:
            res = upload(c, "bad.csv", data)
            assert res.status_code == 400, (data, res.text)
            assert res.json()["ok"] is False
            assert re.search(reason, res.json()["error"]), res.json()
    assert leads_files(project) == before


def test_unsafe_names_are_refused(project):
    before = leads_files(project)
    with client(project, uploads_per_minute=100) as c:
        for name in UNSAFE_NAMES:
            res = upload(c, name, GOOD)
            assert res.status_code == 400, (name, res.text)
            assert res.json()["ok"] is False
        res = upload(c, "", GOOD)  # no file name: not a file part at all
        assert res.status_code == 422
        for bad in ("../evil.csv", "../leads/.active", ".hidden.csv", "x.txt"):
            res = c.get("/api/agentic/csv/preview", params={"name": bad}, headers=auth())
            assert res.status_code == 400, bad
        assert c.delete("/api/agentic/csv/.hidden.csv", headers=auth()).status_code == 400
        assert c.get("/api/agentic/csv/download/.active", headers=auth()).status_code == 400
    assert leads_files(project) == before
    assert not (project / "evil.csv").exists()


def test_safe_name_rules():
    assert safe_name(" Q4 leads (v2).csv ") == "Q4 leads (v2).csv"
    assert safe_name("Müller.CSV") == "Müller.CSV"
    for bad in ("../x.csv", "/etc/x.csv", ".x.csv", "x.txt", "x.csv/", "x\0.csv"):
        with pytest.raises(BadInput):
            safe_name(bad)


def test_uploads_over_10_mb_get_413_and_nothing_is_kept(project):
    big = b"phone\n" + b"+12015550123\n" * (10 * 1024 * 1024 // 13 + 1)
    assert len(big) > 10 * 1024 * 1024
    with client(project) as c:
        res = upload(c, "big.csv", big)
        assert res.status_code == 413, res.text
        assert "10 MB" in res.json()["error"]
    assert not (project / "leads" / "big.csv").exists()


def test_size_limit_is_checked_while_streaming_too(project):
    # within the declared-length slack, so the stream check is what refuses it
    with client(project, max_upload_bytes=1000) as c:
        row = b"+12015550123\n"
        assert upload(c, "ok.csv", b"phone\n" + row * 76).status_code == 200  # 994 bytes
        res = upload(c, "big.csv", b"phone\n" + row * 77)  # 1007 bytes
        assert res.status_code == 413
    assert "big.csv" not in leads_files(project)
    assert not [n for n in leads_files(project) if n.startswith(".upload")]


def test_the_eleventh_upload_in_a_minute_gets_429(project):
    with client(project) as c:
        for i in range(10):
            assert upload(c, f"f{i}.csv", GOOD).status_code == 200, i
        res = upload(c, "f10.csv", GOOD)
        assert res.status_code == 429
        assert 1 <= int(res.headers["retry-after"]) <= 60
        assert res.json()["ok"] is False
        assert "f10.csv" not in leads_files(project)
        assert c.get("/api/agentic/csv/list", headers=auth()).status_code == 200  # only uploads


def test_rate_limit_window_slides():
    from dialer.web.ratelimit import ClientLimiter

    now = [0.0]
    limiter = ClientLimiter(10, clock=lambda: now[0])
    for i in range(10):
        now[0] = i
        assert limiter.check("a") == 0
    assert limiter.check("a") == pytest.approx(51)  # the first upload leaves the window at 60
    assert limiter.check("b") == 0  # per client
    now[0] = 60.0
    assert limiter.check("a") == 0


def test_list_select_preview_delete(project):
    with client(project, legacy_csv=project / "leads" / "sample.csv") as c:
        h = auth("admin")
        upload(c, "q4.csv", GOOD)
        listed = c.get("/api/agentic/csv/list", headers=auth("viewer")).json()
        assert [f["name"] for f in listed["files"]] == ["dnc.csv", "q4.csv", "sample.csv"]
        assert listed["active"] == "sample.csv"  # LEADS_CSV_PATH until one is selected
        assert {"name", "size", "mtime", "active"} <= set(listed["files"][0])

        res = c.post("/api/agentic/csv/select", data={"name": "q4.csv"}, headers=h)
        assert res.json() == {"ok": True, "active": "q4.csv"}
        assert (project / "leads" / ".active").read_text().strip() == "q4.csv"
        listed = c.get("/api/agentic/csv/list", headers=h).json()
        assert listed["active"] == "q4.csv"
        assert [f["name"] for f in listed["files"] if f["active"]] == ["q4.csv"]
        res = c.post("/api/agentic/csv/select", data={"name": "nope.csv"}, headers=h)
        assert res.status_code == 404

        res = c.get("/api/agentic/csv/preview", params={"name": "q4.csv", "limit": 2}, headers=h)
        body = res.json()
        assert body["headers"] == ["prospect_name", "company_name", "phone", "email"]
        assert [r["prospect_name"] for r in body["rows"]] == ["Ana Diaz", "Bo Chen"]
        assert body["total"] == 5
        missing = c.get("/api/agentic/csv/preview", params={"name": "x.csv"}, headers=h)
        assert missing.status_code == 404

    with client(project) as c:  # the selection outlives the server
        assert c.get("/api/agentic/csv/list", headers=auth()).json()["active"] == "q4.csv"
        res = c.delete("/api/agentic/csv/q4.csv", headers=auth())
        assert res.json() == {
            "ok": True,
            "deleted": "q4.csv",
            "was_active": True,
            "supabase_error": None,
        }
        assert not (project / "leads" / "q4.csv").exists()
        assert c.get("/api/agentic/csv/list", headers=auth()).json()["active"] is None
        assert c.delete("/api/agentic/csv/q4.csv", headers=auth()).status_code == 404


EVIL = """\
prospect_name,phone,notes
=HYPERLINK("http://x.example"),+12015550123,@SUM(1+1)
-2+3,+12125550199,plain
"""


def test_csv_exports_neutralise_formulas(project):
    with client(project) as c:
        assert upload(c, "evil.csv", EVIL).status_code == 200
        for res in (
            c.get("/api/agentic/csv/download/evil.csv", headers=auth("viewer")),
            c.get(
                "/api/agentic/csv/preview",
                params={"name": "evil.csv", "format": "csv"},
                headers=auth("viewer"),
            ),
        ):
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(res.text)))
            assert rows[0] == ["prospect_name", "phone", "notes"]
            assert rows[1] == ['\'=HYPERLINK("http://x.example")', "'+12015550123", "'@SUM(1+1)"]
            assert rows[2] == ["'-2+3", "'+12125550199", "plain"]


def test_neutralise_cell():
    for start in "=+-@\t\r":
        assert neutralise_cell(start + "1") == "'" + start + "1"
    assert neutralise_cell("a=b") == "a=b"
    assert neutralise_cell(None) == ""
    assert neutralise_cell(42) == "42"
    assert to_csv(["=h"], [["=x", "ok"]]) == "'=h\r\n'=x,ok\r\n"
