"""The HTTP API fuzzed from its own OpenAPI schema: no 5xx, and only what the schema documents.

schemathesis turns `app.openapi()` into hypothesis strategies, one per operation, positive (what
the schema allows) and negative (what it forbids). Each case goes to the real app through
Starlette's TestClient, whose lifespan this test owns: the run log opens, runs started by the
fuzzer dial the offline simulator, and at the end the app hangs up and closes, so no thread or
run outlives the test. Every response then passes schemathesis's conformance checks: no server
error, a status code, content type, headers and body the schema documents for the operation, and
negative data refused with a 4xx. Every 4xx is the app's error shape, `{"ok": false, "error"}`.

Each test copies a prepared project (campaigns, lead files, a custom campaign, a simulated run,
do-not-call numbers), so destructive routes (DELETE a lead file, campaign writes) only ever touch
a temporary copy. Positive cases sometimes take a real name from that project (a campaign, a lead
file, a run, a phone number on the list) instead of a random one: random strings alone would only
ever reach the 404 branches.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .test_cli_call import build_call_project
from .webapp import auth, config, simulated_run

# Examples per operation and generation mode: a budget that keeps this file well under a minute
# on a slow, shared machine (hypothesis stops earlier when an operation has fewer inputs). For a
# deeper search, e.g. before a release: DIALER_FUZZ_EXAMPLES=500 pytest tests/test_web_fuzz.py
EXAMPLES = int(os.environ.get("DIALER_FUZZ_EXAMPLES", "12"))
VIEWER_EXAMPLES = max(2, EXAMPLES // 5)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run: a failure here reproduces
    database=None,  # nothing replayed from (or written to) a local .hypothesis folder
    deadline=None,  # a request's time depends on the machine, not on the input
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
    print_blob=False,
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Not run: the checks that send requests of their own (ignored_auth, unsupported_method, the
# stateful ones) go through schemathesis's transport, not this TestClient; auth is covered by
# test_fuzz_with_a_viewer_token_and_without_one below.

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            # FastAPI ignores query parameters and JSON fields it does not declare, as most HTTP
            # APIs do: sending them is not "negative data" the app must refuse
            "allow-extra-parameters": False,
            # the Authorization header is ours: a valid token for the role under test
            "with-security-parameters": False,
        }
    }
)
# Every operation and who may use it. The test below checks this table against the app's schema,
# so a new route can not go unfuzzed.
ROLES = {
    "GET /api/health": None,
    "GET /api/auth/whoami": "viewer",
    "POST /api/agentic/csv/upload": "admin",
    "GET /api/agentic/csv/list": "viewer",
    "GET /api/agentic/csv/preview": "viewer",
    "GET /api/agentic/csv/download/{name}": "viewer",
    "POST /api/agentic/csv/select": "admin",
    "DELETE /api/agentic/csv/{name}": "admin",
    "GET /api/agentic/campaigns/legacy/list": "viewer",
    "POST /api/agentic/campaigns/legacy/create": "admin",
    "POST /api/agentic/campaigns/legacy/update": "admin",
    "GET /api/campaigns": "viewer",
    "GET /api/campaigns/{name}": "viewer",
    "PUT /api/campaigns/{name}": "admin",
    "GET /api/campaigns/{name}/leads": "viewer",
    "GET /api/runs": "viewer",
    "GET /api/runs/{run_id}": "viewer",
    "GET /api/attempts": "viewer",
    "GET /api/attempts/{attempt_id}/transcript": "viewer",
    "GET /api/reports/{campaign}": "viewer",
    "GET /api/dnc": "viewer",
    "POST /api/dnc": "admin",
    "DELETE /api/dnc/{phone}": "admin",
    "GET /api/call/status": "viewer",
    "GET /api/call/events": "viewer",
    "POST /api/call/start": "operator",
    "POST /api/call/one": "operator",
    "POST /api/call/stop": "operator",
    "POST /api/call/end": "operator",
}
# An event stream never ends: the test reads its first event, then hangs up.
STREAMS = {"GET /api/call/events"}
# Operations the admin run must see succeed at least once: proof that the fuzzer gets past
# validation and the 404s into the code that does the work. Left out: a single call, whose success
# depends on the wall clock (the lead's calling window).
MUST_SUCCEED = set(ROLES) - {"POST /api/call/one"}
UPLOAD = "POST /api/agentic/csv/upload"

DNC_NUMBERS = ["+12015550177", "(312) 555-0188"]  # put on the list (kept there as E.164)
CUSTOM = "fuzz_custom"  # a campaign created through the legacy API: the update can change it


# ----- the project every test copies -----------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, dict]:
    """A project with every kind of thing the API can name, built once for the module, and
    those names (`known_values`): every copy of it holds the same."""
    from dialer.scaffold import init_project
    from dialer.store.connect import open_run_log
    from dialer.store.dnc import add_numbers
    from dialer.web.legacy import legacy_create

    root = tmp_path_factory.mktemp("fuzz-template")
    init_project(root)
    build_call_project(root)  # campaigns/c.yaml: leads callable right now, calls that end at once
    with contextlib.chdir(root):
        simulated_run()  # runs, attempts and transcripts for the read routes
    legacy_create(
        root / "campaigns",
        root / "leads",
        root,
        "Fuzz custom",
        "You are [Resource Name].",
        "Hi [Prospect Name], this call may be recorded.",
        module=CUSTOM,
        leads="call.csv",
    )
    con = open_run_log(root / "runs" / "dialer.duckdb")
    try:
        add_numbers(con, DNC_NUMBERS, "US", "test", "fuzz")
    finally:
        con.close()
    return root, known_values(root)


def known_values(project: Path) -> dict[str, dict[tuple[str, str | None], list]]:
    """Real names in `project`, by operation and (case part, parameter): what positive cases
    sometimes use instead of a generated value. `None` as the parameter replaces the whole body."""
    con = duckdb.connect(str(project / "runs" / "dialer.duckdb"), read_only=True)
    try:
        run_ids = [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]
        attempt_ids = [
            r[0] for r in con.execute("SELECT attempt_id FROM attempts LIMIT 5").fetchall()
        ]
        names = [r[0] for r in con.execute("SELECT DISTINCT campaign FROM runs").fetchall()]
    finally:
        con.close()
    stems = sorted(p.stem for p in (project / "campaigns").glob("*.yaml"))
    lead_files = sorted(p.name for p in (project / "leads").glob("*.csv"))
    example = (project / "campaigns" / "example.yaml").read_text(encoding="utf-8")
    text = example.replace("name: Example outreach", "name: Fuzzed outreach")
    assert text != example

    def campaign_file(media_type: str):
        # a YAML body is generated and sent as data (schemathesis writes it as YAML); a text
        # body as the file's text
        return yaml.safe_load(text) if "yaml" in media_type else text

    phones = ["+12015550123", "(312) 555-0142", "2015550123"]
    return {
        "GET /api/agentic/csv/preview": {("query", "name"): lead_files},
        "GET /api/agentic/csv/download/{name}": {("path_parameters", "name"): lead_files},
        "POST /api/agentic/csv/select": {("body", "name"): lead_files},
        "DELETE /api/agentic/csv/{name}": {("path_parameters", "name"): lead_files},
        "POST /api/agentic/campaigns/legacy/create": {
            ("body", "leads"): lead_files,
            ("body", "module"): ["fuzzed", CUSTOM, "example"],
        },
        "POST /api/agentic/campaigns/legacy/update": {
            ("body", "module"): [CUSTOM, "example"],
            ("body", "name"): ["Fuzz custom", "Fuzz renamed"],
        },
        "GET /api/campaigns/{name}": {("path_parameters", "name"): stems},
        "PUT /api/campaigns/{name}": {
            ("path_parameters", "name"): [*stems, "fuzzed"],
            ("body", None): [campaign_file],
        },
        "GET /api/campaigns/{name}/leads": {("path_parameters", "name"): stems},
        "GET /api/runs": {("query", "campaign"): names},
        "GET /api/runs/{run_id}": {("path_parameters", "run_id"): run_ids},
        "GET /api/attempts": {("query", "run"): run_ids, ("query", "campaign"): names},
        "GET /api/attempts/{attempt_id}/transcript": {
            ("path_parameters", "attempt_id"): attempt_ids
        },
        "GET /api/reports/{campaign}": {
            ("path_parameters", "campaign"): [*stems, *names],
            ("query", "run"): run_ids,
        },
        "POST /api/dnc": {("body", "numbers"): [DNC_NUMBERS, phones]},
        "DELETE /api/dnc/{phone}": {
            ("path_parameters", "phone"): [*DNC_NUMBERS, "3125550188", "+13125550188"]
        },
        "POST /api/call/start": {("body", "campaign"): ["c", "example"]},
        "POST /api/call/one": {("body", "campaign"): ["c"], ("body", "phone"): phones},
    }


# ----- the app, its schema and one request -----------------------------------------------------
def _app(project: Path):
    from dialer.web.app import create_app

    # uploads are rate limited per client (10 a minute, tested in test_web_csv.py); the fuzzer
    # sends more than that from one address and must reach the upload code itself
    return create_app(config(project, uploads_per_minute=1_000_000))


# The schema does not depend on the project: built once (no lifespan runs), it serves every test.
OPENAPI = _app(Path("/nonexistent")).openapi()
SCHEMA = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)
LABELS = [result.ok().label for result in SCHEMA.get_all_operations()]


@contextlib.contextmanager
def running_app(project: Path) -> Iterator:
    """A TestClient on the app for `project`, lifespan and all; on exit the app has stopped
    every run it started, and no thread it started is left."""
    from fastapi.testclient import TestClient

    before = set(threading.enumerate())
    with TestClient(_app(project), raise_server_exceptions=False) as client:
        yield client
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in left:
        t.join(timeout=5)
    assert [t.name for t in left if t.is_alive()] == []
    con = duckdb.connect(str(project / "runs" / "dialer.duckdb"), read_only=True)
    try:
        running = con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
    finally:
        con.close()
    assert running == 0


def send(client, case, headers: dict[str, str], tweak: Callable | None = None) -> httpx.Response:
    """The case as bytes on the wire (encoded by requests, as schemathesis sends it), through the
    TestClient; an event stream is read up to its first event."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    if tweak is not None:
        tweak(kwargs)
    fields = ("method", "url", "headers", "params", "cookies", "data", "files", "json")
    prepared = requests.Request(**{k: kwargs[k] for k in fields if k in kwargs}).prepare()
    request = {"headers": dict(prepared.headers), "content": prepared.body}
    if case.operation.label not in STREAMS:
        return client.request(prepared.method, prepared.url, **request)
    first = b""
    with client.stream(prepared.method, prepared.url, **request) as res:
        for chunk in res.iter_bytes():
            first += chunk
            if b"\n\n" in first or res.status_code != 200:
                break
    out = httpx.Response(res.status_code, headers=res.headers, content=first, request=res.request)
    out.elapsed = res.elapsed  # read after the stream closed, as for any response
    return out


def check(case, res: httpx.Response) -> None:
    """schemathesis's checks, and the app's error shape on every refusal."""
    case.validate_response(res, checks=CHECKS)
    if 400 <= res.status_code < 500:
        body = res.json()
        assert body["ok"] is False and isinstance(body["error"], str) and body["error"], body


def with_known(operation, mode, known: dict) -> st.SearchStrategy:
    """Cases of `operation`; positive ones sometimes carry real names from the project."""
    generated = operation.as_strategy(generation_mode=mode)

    @st.composite
    def cases(draw):
        case = draw(generated)
        if mode is not GenerationMode.POSITIVE:
            return case  # a negative case stays what it is: the substitution could fix it
        for (part, name), values in known.get(operation.label, {}).items():
            if not draw(st.booleans()):
                continue
            value = draw(st.sampled_from(values))
            if name is None:
                case.body = value(case.media_type) if callable(value) else value
            elif part == "body":
                if isinstance(case.body, dict):
                    case.body[name] = value
            else:
                container = getattr(case, part)
                if container is None:
                    setattr(case, part, {})
                    container = getattr(case, part)
                container[name] = value
        return case

    return cases()


def real_upload(sample: bytes) -> Callable:
    """The upload's file part: schemathesis names every file `file`, which is never a .csv;
    this gives it a lead file's name and content instead."""

    def tweak(kwargs):
        kwargs["files"] = [
            ("file", ("fuzzed.csv", sample, "text/csv")) if name == "file" else (name, part)
            for name, part in kwargs.get("files") or []
        ]

    return tweak


# ----- the tests -------------------------------------------------------------------------------
def test_every_operation_is_fuzzed():
    """The tests below run once per operation of the schema, and the table of roles names each
    one: a new route is fuzzed (and needs its role written down) without anyone remembering to.
    The one route left out of the schema is the dashboard page, `GET /`."""
    assert sorted(LABELS) == sorted(ROLES)
    assert len(LABELS) >= 29


@pytest.mark.parametrize("label", LABELS)
def test_fuzz_as_admin(label, template, tmp_path, monkeypatch):
    """Every operation with an admin token: nothing but documented answers, never a 5xx."""
    project, known = tmp_path / "project", template[1]
    shutil.copytree(template[0], project)
    monkeypatch.chdir(project)
    upload = real_upload((project / "leads" / "call.csv").read_bytes())
    statuses: Counter[int] = Counter()
    examples: Counter[str] = Counter()
    operation = SCHEMA.find_operation_by_label(label)
    modes = [GenerationMode.POSITIVE]
    if len(operation.query) or len(operation.body):
        modes.append(GenerationMode.NEGATIVE)

    def fuzz(client, mode: GenerationMode) -> None:
        positive = mode is GenerationMode.POSITIVE

        @FUZZ_SETTINGS
        @given(case=with_known(operation, mode, known), real_file=st.booleans())
        def run(case, real_file):
            tweak = upload if label == UPLOAD and positive and real_file else None
            res = send(client, case, auth("admin"), tweak)
            statuses[res.status_code] += 1
            examples[mode.value] += 1
            check(case, res)

        run()

    with running_app(project) as client:
        for mode in modes:
            fuzz(client, mode)
        # a run the fuzzer started is stopped as a user would; the shutdown hangs up the rest
        client.post("/api/call/stop", headers=auth("admin"))
    assert examples["positive"] >= 1, examples
    if GenerationMode.NEGATIVE in modes:
        assert examples["negative"] >= 1, examples
    if len(operation.path_parameters) or len(operation.query) or len(operation.body):
        assert sum(examples.values()) >= EXAMPLES, examples
    if label in MUST_SUCCEED:
        assert any(200 <= s < 300 for s in statuses), statuses


def test_fuzz_with_a_viewer_token_and_without_one(template, tmp_path, monkeypatch):
    """Every operation with a viewer token and with none, on one app (neither can change
    anything): no token is a documented 401, too low a role a documented 403, never a 5xx."""
    project = tmp_path / "project"
    shutil.copytree(template[0], project)
    monkeypatch.chdir(project)
    statuses = {(label, who): Counter() for label in LABELS for who in ("viewer", "none")}

    def fuzz(client, label: str) -> None:
        operation = SCHEMA.find_operation_by_label(label)

        @settings(FUZZ_SETTINGS, max_examples=VIEWER_EXAMPLES)
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def run(case):
            for who, headers in (("viewer", auth("viewer")), ("none", {})):
                res = send(client, case, headers)
                statuses[label, who][res.status_code] += 1
                check(case, res)

        run()

    with running_app(project) as client:
        for label in LABELS:
            fuzz(client, label)
    # a positive case reaches the token check: no token is a 401, too low a role a 403
    wrong = {}
    for label, role in ROLES.items():
        none, viewer = statuses[label, "none"], statuses[label, "viewer"]
        if not none or set(none) != ({200} if role is None else {401}):
            wrong[label, "none"] = none
        refused_as_it_should = (
            set(viewer) == {403} if role in ("operator", "admin") else 403 not in viewer
        )
        if not refused_as_it_should:
            wrong[label, "viewer"] = viewer
    assert wrong == {}


# What the fuzzer found, each as the request that showed it (the budget above does not promise to
# draw these exact values again): operation, method, URL, (content type, body), and now the status
# and response media type. Each was a 500, or an answer the schema did not document.
CAMPAIGN_BODY = object()  # the example campaign under another name
FOUND = [
    # a 500: numbers past DuckDB's 64-bit LIMIT/OFFSET
    ("GET /api/attempts", "/api/attempts?offset=10065042131468689408", None, 422, "json"),
    ("GET /api/dnc", "/api/dnc?limit=10065042131468689408", None, 422, "json"),
    (
        "GET /api/campaigns/{name}/leads",
        "/api/campaigns/example/leads?page=10065042131468689408",
        None,
        422,
        "json",
    ),
    # a 500: plan times whose date arithmetic overflows
    (
        "GET /api/campaigns/{name}/leads",
        "/api/campaigns/example/leads?at=9999-12-31T23:59:59-05:00",
        None,
        422,
        "json",
    ),
    (
        "GET /api/campaigns/{name}/leads",
        "/api/campaigns/example/leads?at=0001-01-01T00:00:00%2B05:00",
        None,
        422,
        "json",
    ),
    # a 500: a control character in a campaign file escaped the loader as a YAML ReaderError
    (
        "PUT /api/campaigns/{name}",
        "/api/campaigns/c",
        ("text/plain", "name: x\n5\u0080".encode()),
        422,
        "json",
    ),
    # undocumented 400: a JSON body that is not UTF-8, refused by FastAPI before validation
    ("POST /api/dnc", "/api/dnc", ("application/json", b"\xbc0N"), 400, "json"),
    ("POST /api/call/end", "/api/call/end", ("application/json", b"\xbc0N"), 400, "json"),
    # undocumented 400 and 404: a run or call of a campaign that is not a file stem, or not there
    (
        "POST /api/call/start",
        "/api/call/start",
        ("application/json", b'{"campaign": ""}'),
        400,
        "json",
    ),
    (
        "POST /api/call/start",
        "/api/call/start",
        ("application/json", b'{"campaign": "nope"}'),
        404,
        "json",
    ),
    (
        "POST /api/call/one",
        "/api/call/one",
        ("application/json", b'{"campaign": "nope", "lead": 1}'),
        404,
        "json",
    ),
    # undocumented media types: downloads, the report page, the event stream
    ("GET /api/dnc", "/api/dnc?format=csv", None, 200, "text/csv"),
    (
        "GET /api/agentic/csv/preview",
        "/api/agentic/csv/preview?name=call.csv&format=csv",
        None,
        200,
        "text/csv",
    ),
    (
        "GET /api/agentic/csv/download/{name}",
        "/api/agentic/csv/download/call.csv",
        None,
        200,
        "text/csv",
    ),
    ("GET /api/reports/{campaign}", "/api/reports/example?format=html", None, 200, "text/html"),
    ("GET /api/call/events", "/api/call/events", None, 200, "text/event-stream"),
    # a YAML body was documented as a YAML string: it is the campaign, a mapping
    (
        "PUT /api/campaigns/{name}",
        "/api/campaigns/fuzzed",
        ("application/yaml", CAMPAIGN_BODY),
        201,
        "json",
    ),
]


def documented(label: str, status: int) -> list[str]:
    """The media types the schema gives for `status` of the operation; [] when it has none."""
    method, path = label.split(" ", 1)
    response = OPENAPI["paths"][path][method.lower()]["responses"].get(str(status), {})
    return list(response.get("content", {}))


def test_what_the_fuzzer_found_stays_fixed(template, tmp_path, monkeypatch):
    """Each request the fuzzer first failed on: now a 4xx in the error shape or a 200, with a
    status and media type the schema documents for it."""
    project = tmp_path / "project"
    shutil.copytree(template[0], project)
    monkeypatch.chdir(project)
    example = (project / "campaigns" / "example.yaml").read_text(encoding="utf-8")
    campaign = example.replace("name: Example outreach", "name: Fuzzed outreach").encode()
    c_yaml = (project / "campaigns" / "c.yaml").read_bytes()
    wrong = []
    with running_app(project) as client:
        for label, url, body, status, media in FOUND:
            method, headers, content = label.split(" ", 1)[0], auth("admin"), None
            if body is not None:
                headers["Content-Type"] = body[0]
                content = campaign if body[1] is CAMPAIGN_BODY else body[1]
            with client.stream(method, url, headers=headers, content=content) as res:
                # an event stream never ends: its status and headers are enough here
                text = "" if label in STREAMS else res.read().decode("utf-8", "replace")
            got = res.headers["content-type"].split(";")[0]
            if res.status_code != status or media not in got:
                wrong.append(f"{method} {url}: {res.status_code} {got}: {text[:200]}")
            elif got not in documented(label, status):
                wrong.append(f"{method} {url}: {got} is not documented for {status}")
            elif status >= 400 and not (res.json()["ok"] is False and res.json()["error"]):
                wrong.append(f"{method} {url}: not the error shape: {text[:200]}")
    assert not wrong, "\n".join(wrong)
    assert (project / "campaigns" / "c.yaml").read_bytes() == c_yaml  # the 422 wrote nothing
