"""The dashboard in a real Chromium against the real server: sign in, page, call, run, stop."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from .conftest import REPO, write_campaign
from .test_run_service import SLOW
from .test_web_server import start_server
from .webapp import auth


def chromium() -> str | None:
    for candidate in (
        "/usr/lib/chromium/chromium",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture
def browser():
    executable = chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the dashboard tests (scripts/test installs it)")
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


# screenshots land here (CI keeps the folder; it is git-ignored)
ARTIFACTS = Path(os.environ.get("DIALER_TEST_ARTIFACTS") or REPO / "artifacts")

# answered calls of two seconds: a run that starts, shows its calls, and ends with transcripts
QUICK = SLOW.replace("name: Call test", "name: Quick test").replace(
    "talk_time: {min: 30s, max: 30s}", "talk_time: {min: 2s, max: 2s}"
)

MANY = """\
name: Many leads
leads:
  source: ../leads/many.csv
agent:
  instructions: "You are Sam."
  opening: "Hi {{ lead.prospect_name }}."
"""


@pytest.fixture
def dashboard(call_project, browser):
    slow = SLOW.replace("name: Call test", "name: Slow test")
    write_campaign(call_project, slow, "slow.yaml")
    rows = "".join(f"Lead {i},+1 201-555-{i:04d},America/New_York\n" for i in range(100, 145))
    (call_project / "leads" / "many.csv").write_text("prospect_name,phone,timezone\n" + rows)
    write_campaign(call_project, MANY, "many.yaml")
    write_campaign(call_project, QUICK, "quick.yaml")
    proc, killer, url = start_server(call_project)
    page = browser.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page, url
    finally:
        page.close()
        proc.terminate()
        proc.wait(10)
        killer.cancel()


def until(page, expression: str, timeout: float = 10.0) -> None:
    """Wait until a JS expression holds. Not `wait_for_function`: Playwright evaluates its
    predicate with eval, which the dashboard's Content-Security-Policy rightly forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        page.wait_for_timeout(50)


def token(role: str) -> str:
    return auth(role)["Authorization"].removeprefix("Bearer ")


def sign_in(page, url: str, role: str = "operator") -> None:
    page.goto(url + "/")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#token-input", token(role))
    page.click("#token-save")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#campaign option", state="attached")


def pick(page, campaign: str) -> None:
    page.select_option("#campaign", campaign)
    page.wait_for_selector(f"#leads[data-campaign='{campaign}']", state="attached")
    page.wait_for_selector("#page-info:has-text('leads')")


def test_sign_in_refuses_a_bad_token_then_lists_prospects_and_pages(dashboard):
    page, url = dashboard
    page.goto(url + "/")
    page.fill("#token-input", "not-a-token")
    page.click("#token-save")
    page.wait_for_selector("#signin-error:has-text('refused')")
    sign_in(page, url, "viewer")
    options = page.eval_on_selector_all("#campaign option", "els => els.map(e => e.value)")
    assert {"c", "many", "slow", "quick"} <= set(options)
    pick(page, "many")  # 45 leads: three pages of 20
    assert "page 1 of 3" in page.inner_text("#page-info")
    assert page.locator("#leads tr").count() == 20
    page.keyboard.press("n")
    page.wait_for_selector("#page-info:has-text('page 2 of 3')")
    assert page.locator("#leads tr").first.get_attribute("data-row") == "21"
    page.keyboard.press("p")
    page.wait_for_selector("#page-info:has-text('page 1 of 3')")
    pick(page, "c")
    states = page.eval_on_selector_all("#leads tr", "els => els.map(e => e.dataset.state)")
    assert states == ["callable_now", "outside_window", "suppressed", "duplicate", "callable_now"]


def test_click_to_call_enter_for_the_next_and_the_transcript(dashboard):
    page, url = dashboard
    sign_in(page, url)
    pick(page, "c")
    page.click("#leads tr[data-row='1']")
    page.wait_for_selector("#last-call:has-text('lead 1 Open Lead: busy')")
    # lead 1 now waits a day for its retry; Enter calls the next callable lead, row 5
    until(
        page,
        "document.querySelector(\"#leads tr[data-row='1']\").dataset.state === 'waiting_retry'",
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("#last-call:has-text('lead 5 Extra Lead: busy')")
    # a suppressed lead is refused with the reason, and nothing is dialed
    page.click("#leads tr[data-row='3']")
    page.wait_for_selector("#notice:has-text('suppressed')")
    # run history: the two single calls; a run's attempts, then an attempt's transcript view
    until(page, "document.querySelectorAll('#runs tr').length === 2")
    page.click("#runs tr >> nth=0")
    page.wait_for_selector("#run-detail tr.attempt")
    page.click("#run-detail tr.attempt >> nth=0")
    page.wait_for_selector("#transcript:has-text('busy')")


def test_start_run_live_calls_end_one_and_stop(dashboard):
    page, url = dashboard
    sign_in(page, url)
    pick(page, "slow")
    page.click("#start")
    page.wait_for_selector("#state:has-text('running')")
    until(page, "document.querySelectorAll('#calls li').length === 2")
    assert page.inner_text("#in-flight") == "2"
    page.click("#end")  # hangs up every call in progress; the run has no third lead
    page.wait_for_selector("#counts:has-text('canceled 2')")
    page.wait_for_selector("#state:has-text('idle')")
    # a viewer sees the state but the server refuses its dial
    sign_out_and_in_as_viewer(page, url)
    page.click("#start")
    page.wait_for_selector("#notice:has-text('operator')")


def sign_out_and_in_as_viewer(page, url: str) -> None:
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#token-input", token("viewer"))
    page.click("#token-save")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#campaign option", state="attached")
    pick(page, "slow")


def test_a_run_from_start_to_its_transcript_and_a_screenshot(dashboard, browser):
    page, url = dashboard
    sign_in(page, url)
    pick(page, "quick")
    assert page.inner_text("#state") == "idle"
    assert "3 to call, 2 callable now" in page.inner_text("#page-info")
    page.click("#start")
    # the live panel changes by itself: running with two calls in flight, then idle with results
    page.wait_for_selector("#state:has-text('running')")
    until(page, "document.querySelectorAll('#calls li').length === 2")
    page.wait_for_selector("#state:has-text('idle')")
    page.wait_for_selector("#counts:has-text('completed 2')")
    # the run in the history, its attempts, and an attempt's conversation
    until(page, "document.querySelectorAll('#runs tr').length === 1")
    page.click("#runs tr >> nth=0")
    until(page, "document.querySelectorAll('#run-detail tr.attempt').length === 2")
    # the run's report with its charts (plotly, inlined: no network needed)
    report = page.frame_locator("#report")
    report.locator("h2:has-text('Totals')").wait_for()
    report.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    assert report.locator(".js-plotly-plot").count() >= 2
    page.click("#run-detail tr.attempt >> nth=0")
    page.wait_for_selector("#transcript pre.transcript")
    transcript = page.inner_text("#transcript")
    assert "completed" in transcript
    assert re.search(r"agent: Hi (Open|Extra) Lead, this call may be recorded\.", transcript)
    assert "user: " in transcript
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard-run-transcript.png"
    page.screenshot(path=str(shot), full_page=True)
    stats = image_stats(browser, shot.read_bytes())
    assert stats["width"] >= 800 and stats["height"] >= 600, stats
    # not blank: many colours, and a real share of pixels unlike the page background
    assert stats["colors"] >= 50 and stats["ink"] >= 0.02, stats


def image_stats(browser, png: bytes) -> dict:
    """Decode a PNG in the browser: size, distinct colours, share of non-background pixels."""
    import base64

    page = browser.new_page()
    try:
        return page.evaluate(
            """async (data) => {
                const img = new Image();
                img.src = "data:image/png;base64," + data;
                await img.decode();
                const canvas = document.createElement("canvas");
                canvas.width = img.width;
                canvas.height = img.height;
                const ctx = canvas.getContext("2d");
                ctx.drawImage(img, 0, 0);
                const px = ctx.getImageData(0, 0, img.width, img.height).data;
                const colors = new Set();
                let ink = 0;
                for (let i = 0; i < px.length; i += 4) {
                    colors.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
                    const away = Math.abs(px[i] - px[0]) + Math.abs(px[i + 1] - px[1])
                        + Math.abs(px[i + 2] - px[2]);
                    if (away > 60) ink++;
                }
                return {width: img.width, height: img.height, colors: colors.size,
                        ink: ink / (px.length / 4)};
            }""",
            base64.b64encode(png).decode(),
        )
    finally:
        page.close()
