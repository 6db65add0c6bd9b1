"""Lead selection through DuckDB: mapping, where, E.164, dedupe, suppression, timezones, safety."""

from __future__ import annotations

import duckdb
import pytest

import dialer.leads as leads_module
from dialer.campaign.load import load_campaign
from dialer.errors import CampaignInvalid, DialerError, LeadSourceError
from dialer.leads import fetch_leads, select_leads
from dialer.store.connect import open_run_log

from .conftest import write_campaign

HEADER = "Full Name,Phone Number,tz,industry,score\n"
ROWS = [
    "Ann,+1 201-555-0123,America/New_York,saas,90",  # 1 ok
    "Bob,(212) 555-0199,,saas,80",  # 2 ok, zone from number
    "Cid,not a number,,saas,70",  # 3 invalid phone
    "Dee,201.555.0123,,saas,60",  # 4 duplicate of 1
    "Eve,646-555-0122,,saas,50",  # 5 suppressed by list
    "Fay,+1 800 555 0100,,saas,40",  # 6 toll free: many zones
    "Gus,+44 20 7946 0958,Europe/London,retail,30",  # 7 not matched by where
    "Hal,312-555-0142,Not/AZone,saas,20",  # 8 bad tz column -> from number
]
CAMPAIGN = """\
name: Leads test
leads:
  source: ../leads/people.csv
  columns: {{phone: "Phone Number", prospect_name: "Full Name", timezone: tz}}
  where: "{where}"
  order_by: "score DESC"
suppress: [../leads/stop.csv]
agent:
  instructions: "x"
  opening: "y"
"""


@pytest.fixture
def people(project):
    (project / "leads" / "people.csv").write_text(HEADER + "\n".join(ROWS) + "\n")
    (project / "leads" / "stop.csv").write_text("number\n6465550122\n")
    return project


def select(project, where="industry = 'saas'", run_log=None, extra=""):
    path = write_campaign(project, CAMPAIGN.format(where=where) + extra)
    return select_leads(load_campaign(path, env={}), run_log)


def stages(sel):
    return dict(sel.con.execute("SELECT __row, __stage FROM __sel ORDER BY __row").fetchall())


def test_each_stage_is_counted(people):
    sel = select(people)
    assert sel.counts == {
        "source_rows": 8,
        "not_matched": 1,
        "invalid_phone": 1,
        "duplicate": 1,
        "suppressed": 1,
        "no_timezone": 0,
        "over_limit": 0,
        "selected": 4,
    }
    assert stages(sel) == {
        1: "selected",
        2: "selected",
        3: "invalid_phone",
        4: "duplicate",
        5: "suppressed",
        6: "selected",
        8: "selected",
    }


def test_mapped_columns_e164_and_timezones(people):
    leads = fetch_leads(select(people))
    assert [lead["prospect_name"] for lead in leads] == ["Ann", "Bob", "Fay", "Hal"]  # score DESC
    by_name = {lead["prospect_name"]: lead for lead in leads}
    assert by_name["Bob"]["phone"] == "+12125550199"
    assert by_name["Bob"]["timezones"] == ["America/New_York"]
    assert by_name["Hal"]["timezones"] == ["America/Chicago"]  # invalid tz column ignored
    assert by_name["Ann"]["row"] == 1
    assert len(by_name["Fay"]["timezones"]) > 5  # toll-free spans zones: windows intersect


def test_dnc_table_in_run_log_suppresses(people):
    db = people / "runs" / "dialer.duckdb"
    con = open_run_log(db)
    con.execute("INSERT INTO dnc (phone, added_at, source) VALUES ('+12125550199', now(), 'cli')")
    con.close()
    sel = select(people, run_log=db)
    assert stages(sel)[2] == "suppressed"
    assert sel.counts["suppressed"] == 2


def test_limit_applies_in_order(people):
    sel = select(people, extra="")
    path = write_campaign(
        people,
        CAMPAIGN.format(where="industry = 'saas'").replace(
            'order_by: "score DESC"', 'order_by: "score DESC"\n  limit: 2'
        ),
    )
    sel = select_leads(load_campaign(path, env={}))
    assert sel.counts["selected"] == 2 and sel.counts["over_limit"] == 2
    assert [lead["prospect_name"] for lead in fetch_leads(sel)] == ["Ann", "Bob"]


def test_unknown_timezone_fails_closed(project):
    (project / "leads" / "people.csv").write_text(
        "phone,timezone\n+1 201-555-0123,\n+882 16 1234 5678,\n"
    )
    path = write_campaign(
        project,
        "name: T\nleads: {source: ../leads/people.csv}\nagent: {instructions: x, opening: y}\n",
    )
    sel = select_leads(load_campaign(path, env={}))
    assert sel.counts["no_timezone"] + sel.counts["invalid_phone"] == 1
    assert sel.counts["selected"] == 1


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("read_text('/etc/passwd') IS NOT NULL", "function read_text() is not allowed"),
        ("phone IN (SELECT phone FROM read_csv('x.csv'))", "subqueries are not allowed"),
        ("getenv('HOME') = 'x'", "function getenv() is not allowed"),
        ("score >", "SQL does not parse"),
        ("1=1) UNION SELECT * FROM __src WHERE (1=1", "expected one SQL expression"),
        ("scroe > 5", "column 'scroe' is not a lead column (hint: did you mean 'score'?)"),
    ],
)
def test_where_is_confined_to_lead_columns(people, where, message):
    with pytest.raises(CampaignInvalid) as info:
        select(people, where=where.replace('"', '\\"'))
    text = info.value.format()
    assert message in text and "leads.where" in text and ":5:" in text, text


def test_checking_a_where_on_the_callers_connection_runs_none_of_it():
    from dialer.campaign import sqlcheck

    con = duckdb.connect()
    con.execute("CREATE TABLE keep AS SELECT 1 AS x")
    attempt = "score > 1); DROP TABLE keep; SELECT (1"
    found = sqlcheck.check_fragment("where", attempt, con)
    assert [p.message for p in found.problems] == [
        "SQL does not parse: expected one SQL expression"
    ]
    assert con.execute("SELECT x FROM keep").fetchall() == [(1,)]
    # the same answer as on the module's own parsing database, given once per fragment
    sqlcheck._checked.clear()
    alone = sqlcheck.check_fragment("order_by", "score DESC, lower(name)")
    assert sqlcheck.check_fragment("order_by", "score DESC, lower(name)", con) is alone
    sqlcheck._checked.clear()
    on_con = sqlcheck.check_fragment("order_by", "score DESC, lower(name)", con)
    assert (
        (on_con.columns, on_con.problems)
        == (alone.columns, alone.problems)
        == (
            {"score", "name"},
            [],
        )
    )
    for i in range(sqlcheck._CHECKED_MAX + 10):  # a long-lived process keeps a bounded cache
        sqlcheck.check_fragment("where", f"score > {i}", con)
    assert len(sqlcheck._checked) <= sqlcheck._CHECKED_MAX


def test_parquet_json_and_glob_sources(people):
    con = duckdb.connect()
    src = people / "leads" / "people.csv"
    con.execute(
        f"COPY (SELECT * FROM read_csv('{src}', all_varchar=true)) TO "
        f"'{people / 'leads' / 'p.parquet'}' (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT * FROM read_csv('{src}', all_varchar=true)) TO "
        f"'{people / 'leads' / 'p.json'}' (FORMAT json)"
    )
    for source in ("p.parquet", "p.json", "peo*.csv"):
        text = CAMPAIGN.format(where="industry = 'saas'").replace("people.csv", source)
        sel = select_leads(load_campaign(write_campaign(people, text), env={}))
        assert sel.counts["selected"] == 4, source


def test_rows_are_numbered_as_in_the_files(people):
    # __row is the 1-based row across the source files in name order, also when a file has a
    # column named rowid (which hides DuckDB's own) and in a source too big for the Python path
    many = "".join(f"P{i},+1 201 555 {i:04d},,saas,{i % 100}\n" for i in range(6000))
    (people / "leads" / "people2.csv").write_text(HEADER + many)
    text = CAMPAIGN.format(where="industry = 'saas'").replace("people.csv", "peo*.csv")
    sel = select_leads(load_campaign(write_campaign(people, text), env={}))
    rows = dict(sel.con.execute("SELECT __row, prospect_name FROM __sel").fetchall())
    assert rows[1] == "Ann" and rows[8] == "Hal" and rows[9] == "P0" and rows[6008] == "P5999"
    assert sel.source_rows == 6008
    (people / "leads" / "r.csv").write_text(
        "rowid,Full Name,Phone Number,tz,score\n7,A,+12015550123,,1\n3,B,+12125550199,,2\n"
    )
    text = CAMPAIGN.format(where="score > 0").replace("people.csv", "r.csv")
    sel = select_leads(load_campaign(write_campaign(people, text), env={}))
    assert sel.con.execute("SELECT __row, rowid FROM __sel ORDER BY __row").fetchall() == [
        (1, 7),
        (2, 3),
    ]


@pytest.mark.parametrize(
    ("where", "matched"),
    [
        ("score % 7 = 3", 57143),
        ("true", 400000),
        # a window that sorts passes rows on in its own order
        ("row_number() OVER (ORDER BY score DESC) <= 100000", 100000),
        ("row_number() OVER (PARTITION BY score % 3 ORDER BY score DESC) <= 20000", 60000),
    ],
)
def test_rows_keep_their_numbers_in_a_parallel_read(people, where, matched):
    # a file of several read buffers, read by four threads: every row keeps its place in the
    # file, and of two rows with one number the first is kept; also on a connection whose
    # owner let DuckDB reorder rows (which it still may afterwards)
    big = people / "leads" / "big.csv"
    duckdb.sql(
        "COPY (SELECT 'P' || i AS \"Full Name\", '+1 201 555 ' || lpad((i % 9000)::VARCHAR, 4, '0')"
        " AS \"Phone Number\", '' AS tz, 'saas' AS industry, i AS score,"
        f" repeat('x', 40) AS pad FROM range(400000) t(i)) TO '{big}' (HEADER)"
    )
    con = duckdb.connect()
    con.execute("SET threads = 4")
    if where == "true":
        con.execute("SET preserve_insertion_order = false")
    text = CAMPAIGN.format(where=where).replace("people.csv", "big.csv")
    sel = select_leads(load_campaign(write_campaign(people, text), env={}), con=con)
    assert sel.source_rows == 400000
    wrong, rows = con.execute(
        "SELECT count(*) FILTER (WHERE __row <> score + 1), count(*) FROM __sel"
    ).fetchone()
    assert (wrong, rows) == (0, matched)
    if where == "true":
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (
            False,
        )
    firsts = con.execute(
        "SELECT count(*) FILTER (WHERE __row <> first), count(*) FROM (SELECT __row,"
        " min(__row) OVER (PARTITION BY __e164) AS first FROM __sel) WHERE __row IN"
        " (SELECT __row FROM __sel WHERE __stage <> 'duplicate')"
    ).fetchone()
    assert firsts == (0, 9000)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "lead file is empty"),
        (b"name,email\nAnn,a@x\n", "lead file has no phone column"),
        (b"phone,name\n", "lead file has a header but no rows"),
        (b"phone,name\n+12015550123,Ann\n+12125550199,\xff\xfeBob\n", "not valid UTF-8"),
    ],
)
def test_bad_lead_files_get_one_clear_error(project, content, message):
    (project / "leads" / "bad.csv").write_bytes(content)
    path = write_campaign(
        project,
        "name: T\nleads: {source: ../leads/bad.csv}\nagent: {instructions: x, opening: y}\n",
    )
    with pytest.raises(LeadSourceError) as info:
        select_leads(load_campaign(path, env={}))
    assert message in info.value.format()
    assert "bad.csv" in info.value.format()


def test_missing_lead_file_points_at_source_line(project):
    path = write_campaign(
        project,
        "name: T\nleads:\n  source: ../leads/nope.csv\nagent: {instructions: x, opening: y}\n",
    )
    with pytest.raises(DialerError) as info:
        select_leads(load_campaign(path, env={}))
    assert info.value.format().startswith(f"{path}:3:11: leads.source: lead source not found")


def test_phone_header_hint(project):
    (project / "leads" / "x.csv").write_text("Name,Mobile Phone\nAnn,2015550123\n")
    path = write_campaign(
        project, "name: T\nleads: {source: ../leads/x.csv}\nagent: {instructions: x, opening: y}\n"
    )
    with pytest.raises(LeadSourceError) as info:
        select_leads(load_campaign(path, env={}))
    assert "leads.columns: {phone: 'Mobile Phone'}" in info.value.format()


@pytest.mark.parametrize("in_scan", [False, True])
@pytest.mark.parametrize(("where", "matched"), [("industry = 'saas'", 4673), ("score > 1000", 0)])
def test_source_rows_and_row_numbers_when_the_last_rows_do_not_match(
    people, monkeypatch, in_scan, where, matched
):
    # the source is read once, keeping the rows `where` matches and the last row, which
    # counts the source; in the SQL path, with the numbers read in that pass or after it
    monkeypatch.setattr(leads_module, "SMALL_SOURCE", 0)
    monkeypatch.setattr(leads_module, "BIG_SOURCE_BYTES", 0 if in_scan else 10**12)
    many = "".join(
        f"P{i},+1 201 555 {i:04d},,{'retail' if i % 3 == 0 else 'saas'},{i % 100}\n"
        for i in range(7000)
    )
    (people / "leads" / "people2.csv").write_text(HEADER + many)  # the last one is retail
    text = CAMPAIGN.format(where=where).replace("people.csv", "peo*.csv")
    sel = select_leads(load_campaign(write_campaign(people, text), env={}))
    assert sel.source_rows == 7008
    assert sel.counts["not_matched"] == 7008 - matched
    assert sum(v for k, v in sel.counts.items() if k not in ("source_rows", "not_matched")) == (
        matched
    )
    rows = dict(sel.con.execute("SELECT __row, prospect_name FROM __sel").fetchall())
    assert len(rows) == matched
    if matched:
        assert rows[1] == "Ann" and 7 not in rows and rows[10] == "P1" and rows[7007] == "P6998"
        assert 9 not in rows and 7008 not in rows


def test_a_where_that_fails_on_the_data_names_the_where(people):
    with pytest.raises(DialerError) as info:
        select(people, where="CAST(prospect_name AS INTEGER) > 0")
    text = info.value.format()
    assert "lead query failed" in text and "leads.where" in text and ":5:" in text, text


def _scratch_catalogs(con) -> list[str]:
    names = con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    return [n for (n,) in names if n.startswith("__dialer_lists")]


@pytest.mark.parametrize("alongside", [False, True])
@pytest.mark.parametrize("small_source", [0, 2])
def test_suppression_lists_alongside_a_big_source_give_the_same_selection(
    people, monkeypatch, alongside, small_source
):
    # a big source has its suppression lists read on another thread while it is read, and
    # normalised there when they are long (0), else when asked (2: one number is short)
    monkeypatch.setattr(leads_module, "SMALL_SOURCE", small_source)
    monkeypatch.setattr(leads_module, "BIG_SOURCE_BYTES", 0 if alongside else 10**12)
    con = duckdb.connect()
    path = write_campaign(people, CAMPAIGN.format(where="industry = 'saas'"))
    sel = select_leads(load_campaign(path, env={}), con=con)
    assert stages(sel)[5] == "suppressed" and sel.counts["suppressed"] == 1
    assert _scratch_catalogs(con) == []  # the lists' own catalog is gone


@pytest.mark.parametrize("alongside", [False, True])
@pytest.mark.parametrize(
    ("stop", "where", "expected"),
    [
        (None, "industry = 'saas'", "suppression list not found: ../leads/stop.csv"),
        (b"number\n\xff\xfe bad\n", "industry = 'saas'", "can not read suppression list"),
        # a missing list is named before a where that fails on the data
        (None, "CAST(industry AS INTEGER) > 0", "suppression list not found"),
    ],
)
def test_a_bad_suppression_list_is_one_clear_error(
    people, monkeypatch, alongside, stop, where, expected
):
    monkeypatch.setattr(leads_module, "SMALL_SOURCE", 0)
    monkeypatch.setattr(leads_module, "BIG_SOURCE_BYTES", 0 if alongside else 10**12)
    if stop is None:
        (people / "leads" / "stop.csv").unlink()
    else:
        (people / "leads" / "stop.csv").write_bytes(stop)
    con = duckdb.connect()
    path = write_campaign(people, CAMPAIGN.format(where=where))
    with pytest.raises(LeadSourceError) as info:
        select_leads(load_campaign(path, env={}), con=con)
    text = info.value.format()
    assert expected in text, text
    if stop is None:
        assert ":7:" in text, text  # the campaign's suppress line
    else:
        assert "stop.csv" in text, text
    assert _scratch_catalogs(con) == []


def test_a_csv_is_read_in_the_dialect_it_is_written_in(project):
    # semicolons, CRLF line ends, a quoted name with a line break and a semicolon, dates: the
    # file is sniffed once and read with what was found; rows keep their file numbers
    text = (
        "name;phone;signed_up;score\r\n"
        '"Ann; CEO";+1 201-555-0123;2026-01-05;90\r\n'
        '"Bob\r\nJr";(212) 555-0199;2026-02-10;80\r\n'
        "Cid;312-555-0142;2025-12-01;70\r\n"
        "Dee;646-555-0122;2026-03-01;10\r\n"
    )
    (project / "leads" / "dialect.csv").write_bytes(text.encode())
    path = write_campaign(
        project,
        "name: D\nleads:\n  source: ../leads/dialect.csv\n"
        "  where: \"signed_up >= DATE '2026-01-01' AND score > 50\"\n"
        "agent: {instructions: x, opening: y}\n",
    )
    sel = select_leads(load_campaign(path, env={}))
    assert sel.source_rows == 4 and sel.counts["not_matched"] == 2
    leads = {lead["row"]: lead for lead in fetch_leads(sel)}
    assert sorted(leads) == [1, 2]
    assert leads[1]["name"] == "Ann; CEO" and leads[2]["name"] == "Bob\r\nJr"
    assert str(leads[2]["signed_up"]) == "2026-02-10" and leads[2]["phone"] == "+12125550199"


def test_a_header_that_reads_as_data_is_still_the_header(project):
    # "2024" parses as a number: the sniffer alone would take the first line for data
    (project / "leads" / "h.csv").write_text("phone,2024\n+1 201-555-0123,5\n(212) 555-0199,7\n")
    path = write_campaign(
        project, "name: H\nleads: {source: ../leads/h.csv}\nagent: {instructions: x, opening: y}\n"
    )
    sel = select_leads(load_campaign(path, env={}))
    assert sel.source_rows == 2 and sel.selected == 2
    assert "2024" in sel.columns


@pytest.mark.parametrize("narrow", [False, True])
def test_a_where_with_a_window_function(people, narrow):
    # the where is evaluated once per row, as a column: a window over the file works
    path = write_campaign(people, CAMPAIGN.format(where="score > avg(score) OVER ()"))
    sel = select_leads(load_campaign(path, env={}), columns=("prospect_name",) if narrow else None)
    got = {r for (r,) in sel.con.execute("SELECT __row FROM __sel").fetchall()}
    assert got == {1, 2, 3, 4}  # above the average, 55


@pytest.mark.parametrize("where", ["COLUMNS(*) IS NOT NULL", "COLUMNS('sc.*') > 1"])
def test_a_where_must_name_its_columns(people, where):
    # what a star reads depends on the file, not on the campaign under review
    with pytest.raises(CampaignInvalid) as info:
        select(people, where=where)
    assert "name the lead columns" in info.value.format()


def test_a_read_only_connection_reads_the_lists_itself(people, monkeypatch, tmp_path):
    # a read-only database can attach no catalog for the lists' thread: they are read on it
    monkeypatch.setattr(leads_module, "BIG_SOURCE_BYTES", 0)
    duckdb.connect(str(tmp_path / "ro.duckdb")).close()
    con = duckdb.connect(str(tmp_path / "ro.duckdb"), read_only=True)
    sel = select_leads(
        load_campaign(write_campaign(people, CAMPAIGN.format(where="industry = 'saas'")), env={}),
        con=con,
    )
    assert stages(sel)[5] == "suppressed" and sel.selected == 4
