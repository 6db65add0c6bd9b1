"""Campaign files over HTTP: the legacy list/create/update and the full-file API, every write
validated as `dialer validate` does before anything is written."""

from __future__ import annotations

from .conftest import MINIMAL, cli, write_campaign
from .webapp import auth, client, upload

AGENT = """\
You are [Resource Name] from Demandify, calling [Prospect Name], [Job Title] at [Company Name].
Offer a 15-minute demo; confirm the e-mail [____@abc.com].
"""
SESSION = "Hi [Prospect Name], this is [Resource Name] from Demandify. This call may be recorded."


def create(c, **form):
    data = {"name": "Q4 Sales", "agent_text": AGENT, "session_text": SESSION, **form}
    return c.post("/api/agentic/campaigns/legacy/create", data=data, headers=auth())


def campaign_files(project):
    return sorted(p.name for p in (project / "campaigns").iterdir())


def test_legacy_create_writes_a_campaign_that_validates_and_renders(project):
    with client(project) as c:
        c.post("/api/agentic/csv/select", data={"name": "sample.csv"}, headers=auth())
        res = create(c)
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["ok"] and body["module"] == "q4_sales" and body["supabase_error"] is None
        assert body["file"] == "campaigns/q4_sales.yaml" and body["created"]
        listed = c.get("/api/agentic/campaigns/legacy/list", headers=auth("viewer")).json()
        assert listed["ok"]
        assert [x["module"] for x in listed["custom"]] == ["q4_sales"]
        assert listed["custom"][0]["name"] == "Q4 Sales"
        assert listed["custom"][0]["builtin"] is False
        assert [x["module"] for x in listed["builtin"]] == ["example"]
        assert listed["builtin"][0]["key"] == "Example outreach (example)"
    path = project / "campaigns" / "q4_sales.yaml"
    text = path.read_text()
    assert "[Prospect Name]" in text and "source: ../leads/sample.csv" in text
    assert cli("validate", str(path)).exit_code == 0
    rendered = cli("render", str(path), "--lead", "1")
    assert rendered.exit_code == 0, rendered.stderr
    assert "Hi Avery Johnson, this is Sam from Demandify" in rendered.stdout
    assert "VP Engineering at Northwind Analytics" in rendered.stdout


def test_legacy_create_refuses_an_invalid_campaign_and_writes_nothing(project):
    before = campaign_files(project)
    with client(project) as c:
        c.post("/api/agentic/csv/select", data={"name": "sample.csv"}, headers=auth())
        res = create(c, agent_text="You are {{ lead.nickname }}.", module="bad")
        assert res.status_code == 422
        body = res.json()
        assert body["ok"] is False and "nothing was written" in body["error"]
        [error] = body["errors"]
        assert error["field"] == "agent.instructions"
        assert "lead.nickname is not a lead column" in error["message"]
        assert error["path"] == "campaigns/bad.yaml" and error["line"]
        res = create(c, session_text="Hi {{ lead.prospect_name ", module="bad")
        assert res.status_code == 422 and res.json()["errors"]
        res = create(c, name="Example outreach", module="other")  # name taken by example.yaml
        assert res.status_code == 422
        assert "already used by campaigns/example.yaml" in res.json()["errors"][0]["message"]
        assert create(c, module="example").status_code == 409
    assert campaign_files(project) == before


def test_legacy_create_needs_a_lead_file(project):
    with client(project) as c:
        res = create(c)
        assert res.status_code == 400 and "no lead file" in res.json()["error"]
        assert "upload" in res.json()["hint"]
        assert create(c, leads="sample.csv").status_code == 200  # or names one


def test_legacy_create_maps_a_foreign_phone_header(project):
    with client(project) as c:
        csv_text = "prospect_name,company_name,job_title,Phone Number,email,resource_name\n"
        csv_text += "Ana Diaz,Acme,CTO,+1 201-555-0123,ana@acme.example,Sam\n"
        assert upload(c, "crm.csv", csv_text).status_code == 200
        c.post("/api/agentic/csv/select", data={"name": "crm.csv"}, headers=auth())
        res = create(c)
        assert res.status_code == 200, res.text
        assert res.json()["leads_selected"] == 1
    text = (project / "campaigns" / "q4_sales.yaml").read_text()
    assert "phone: Phone Number" in text
    assert cli("validate", "campaigns/q4_sales.yaml").exit_code == 0


def test_legacy_update_changes_custom_campaigns_only_and_validates_first(project):
    with client(project) as c:
        create(c, leads="sample.csv", module="backend.campaigns_prompts.q4")
        path = project / "campaigns" / "q4.yaml"
        res = c.post(
            "/api/agentic/campaigns/legacy/update",
            data={"module": "q4", "session_text": "Hello [Prospect Name]! This call is recorded."},
            headers=auth(),
        )
        assert res.status_code == 200, res.text
        assert res.json()["created"] is False
        text = path.read_text()
        assert "Hello [Prospect Name]!" in text and "[Company Name]" in text  # agent kept

        # found by name too; an invalid edit is refused and the file stays as it was
        before = path.read_bytes()
        res = c.post(
            "/api/agentic/campaigns/legacy/update",
            data={"name": "Q4 Sales", "agent_text": "{% if %}"},
            headers=auth(),
        )
        assert res.status_code == 422 and res.json()["errors"]
        assert path.read_bytes() == before

        res = c.post(
            "/api/agentic/campaigns/legacy/update",
            data={"module": "example", "agent_text": "x"},
            headers=auth(),
        )
        assert res.status_code == 409 and "built-in" in res.json()["error"]
        res = c.post(
            "/api/agentic/campaigns/legacy/update", data={"module": "nope"}, headers=auth()
        )
        assert res.status_code == 404
    assert cli("validate", str(path)).exit_code == 0


def test_campaign_list_shows_valid_and_invalid_files_with_their_errors(project):
    write_campaign(project, MINIMAL.replace("name: Minimal", "name: Minimal\npacing: {foo: 1}"))
    with client(project) as c:
        body = c.get("/api/campaigns", headers=auth("viewer")).json()
        by_name = {x["name"]: x for x in body["campaigns"]}
        assert set(by_name) == {"c", "example"}
        assert by_name["example"]["valid"] and by_name["example"]["leads_selected"] == 18
        bad = by_name["c"]
        assert bad["valid"] is False and bad["file"] == "campaigns/c.yaml"
        assert bad["errors"][0]["field"] == "pacing.foo"
        assert bad["errors"][0]["text"].startswith("campaigns/c.yaml:")

        one = c.get("/api/campaigns/c", headers=auth("viewer")).json()
        assert one["text"].startswith("name: Minimal") and one["parsed"]["pacing"] == {"foo": 1}
        assert one["valid"] is False and one["errors"]
        assert c.get("/api/campaigns/nope", headers=auth()).status_code == 404
        assert c.get("/api/campaigns/no.pe", headers=auth()).status_code == 400


def test_campaign_text_keeps_env_references_unexpanded(project, monkeypatch):
    monkeypatch.setenv("SIP_CALLER_ID", "+15550100123")
    with client(project) as c:
        one = c.get("/api/campaigns/example", headers=auth("viewer")).json()
        assert one["parsed"]["telephony"]["caller_id"] == "${SIP_CALLER_ID:-}"
        assert "+15550100123" not in str(one)


def test_put_validates_then_creates_or_replaces(project):
    with client(project) as c:
        res = c.put("/api/campaigns/mini", content=MINIMAL, headers=auth())
        assert res.status_code == 201, res.text
        assert res.json()["campaign"] == "Minimal"
        assert (project / "campaigns" / "mini.yaml").read_text() == MINIMAL
        legacy = c.get("/api/agentic/campaigns/legacy/list", headers=auth()).json()
        assert [x["module"] for x in legacy["custom"]] == ["mini"]

        edited = MINIMAL.replace('opening: "Hi', 'opening: "Hello')
        res = c.put("/api/campaigns/mini", content=edited, headers=auth())
        assert res.status_code == 200 and res.json()["created"] is False
        assert (project / "campaigns" / "mini.yaml").read_text() == edited

        broken = edited.replace("source: ../leads/sample.csv", "source: ../leads/none.csv")
        res = c.put("/api/campaigns/mini", content=broken, headers=auth())
        assert res.status_code == 422
        assert "lead source not found" in res.json()["errors"][0]["message"]
        assert (project / "campaigns" / "mini.yaml").read_text() == edited
        res = c.put("/api/campaigns/mini", content=b"\xff\xfe", headers=auth())
        assert res.status_code == 400
        res = c.put("/api/campaigns/../x", content=MINIMAL, headers=auth())
        assert res.status_code in (400, 404)
    assert not [n for n in campaign_files(project) if n.endswith(".tmp")]


def test_campaign_files_written_by_the_server_are_readable_by_the_team(project):
    """Not mkstemp's private 0600: a new file gets 0644, a replaced one keeps its mode."""
    with client(project) as c:
        c.post("/api/agentic/csv/select", data={"name": "sample.csv"}, headers=auth())
        assert create(c).status_code == 200
        path = project / "campaigns" / "q4_sales.yaml"
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o664)
        res = c.post(
            "/api/agentic/campaigns/legacy/update",
            data={"module": "q4_sales", "session_text": "Hello [Prospect Name], recorded call."},
            headers=auth(),
        )
        assert res.status_code == 200, res.text
        assert path.stat().st_mode & 0o777 == 0o664
        assert (project / "campaigns" / ".custom").stat().st_mode & 0o777 == 0o644
