"""Each role's main path in a real Chromium against a real uvicorn on loopback.

Real parts only: Debian's ``chromium`` driven by Playwright (nothing downloads a browser), the
app served by uvicorn, the encrypted warehouse with a synthetic ``analytics.student_year``,
generated partner files, and the pipeline's own fulfilment function. Every page is checked
with axe-core (WCAG 2.0/2.1 A and AA) and screenshotted under the test's tmp dir.

Skipped, with the reason, when Chromium or Playwright is missing: install with
``apt-get install -y chromium`` and ``pip install playwright==1.65.2 axe-playwright-python==0.1.8``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from governance.extract_registry import ExtractInfo, individual_extracts, mark_fulfilled
from tests.api_support import LEA, write_serving_snapshot
from tests.deid_support import student_year_sql
from tests.governance_fixtures import clear_provider_review

CHROMIUM = os.environ.get("C2C_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists() and shutil.which("chromium"):
    CHROMIUM = shutil.which("chromium") or CHROMIUM

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"BROWSER TESTS SKIPPED: {exc}; pip install playwright==1.65.2 "
                "axe-playwright-python==0.1.8", allow_module_level=True)

if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}; install Debian's "
                "`apt-get install -y chromium` (or set C2C_CHROMIUM)", allow_module_level=True)

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
pytestmark = pytest.mark.slow


@dataclass
class Portal:
    base: str
    keys: dict[str, str]
    settings: Any
    sessions: Any
    shots: Path
    browser: Browser
    violations: dict[str, list[str]]
    axe: Any

    def page(self) -> Page:
        # A fresh context per person: nobody shares cookies with anybody else.
        return self.browser.new_context(bypass_csp=False, accept_downloads=True).new_page()

    def check(self, page: Page, name: str) -> None:
        """Screenshot and axe-core scan of the page as it is now."""
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        results = self.axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        assert results.response["passes"], f"axe-core checked nothing on {name}"
        found = [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: "
                 f"{v['nodes'][0]['target']})" for v in results.response["violations"]]
        if found:
            self.violations[name] = found

    def sign_in(self, page: Page, who: str) -> None:
        page.goto(f"{self.base}/portal/signin")
        page.get_by_label("API key").fill(self.keys[who])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(f"Signed in as {who}")).to_be_visible()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def portal(tmp_path: Path, generated: Path) -> Iterator[Portal]:
    import uvicorn
    from sqlalchemy.orm import sessionmaker

    from api.app import create_app
    from core.keys import create_master_key
    from core.settings import Settings
    from core.warehouse import open_warehouse
    from governance.db import make_engine, upgrade
    from governance.partners import import_partners_csv
    from governance.users import create_user, issue_key

    home = tmp_path / "home"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'governance.db'}",
                        duckdb_memory_limit="500MB", duckdb_threads=1, board_quorum=2)
    home.mkdir()
    create_master_key(settings.master_key_path)
    write_serving_snapshot(settings.serving_path)
    con = open_warehouse(settings)
    con.execute(student_year_sql(400, years=2))
    con.close()
    upgrade(settings.governance_url)
    engine = make_engine(settings.governance_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    keys = {}
    with sessions.begin() as s:
        import_partners_csv(s, generated / "partners.csv")
        for name, roles, org in [("partner", ["partner"], LEA),
                                 ("researcher", ["researcher"], None),
                                 ("board", ["board"], None), ("board_2", ["board"], None),
                                 ("steward", ["steward"], LEA), ("checker", ["checker"], None),
                                 ("checker_2", ["checker"], None)]:
            keys[name] = issue_key(s, create_user(s, name, roles, org).id).token
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            yield Portal(f"http://127.0.0.1:{port}", keys, settings, sessions, shots, browser,
                         {}, Axe())
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def _fulfil(p: Portal) -> None:
    """What the pipeline's research_extracts asset does for a request at quorum."""
    from core.keys import KeyProvider
    from core.warehouse import open_warehouse
    from governance import request_lifecycle as gr
    from services.fulfil import build_package, extract_detail

    keys = KeyProvider(p.settings.master_key_path, p.settings.keyring_path)
    with p.sessions.begin() as s:
        ready = gr.requests_ready_for_fulfilment(s)
        assert len(ready) == 1
        con = open_warehouse(p.settings)
        try:
            result = build_package(con, ready[0], keys, p.settings.extracts_dir,
                                   min_cell=11, k=11, earlier_extracts=individual_extracts(
                                       s, excluding=ready[0].request_id))
        finally:
            con.close()
        mark_fulfilled(s, ready[0].request_id, ExtractInfo(
            package_path=str(result.package_path), sha256=result.package_sha256,
            expires_at=result.expires_at,
            detail=extract_detail(ready[0], result, min_cell=11)))


def _table_keys(page: Page) -> list[tuple[str, str]]:
    """(year, LEA code) of every row of the dashboard's table, in order."""
    return [tuple(row) for row in page.locator("#rows tbody tr").evaluate_all(  # type: ignore[misc]
        "rows => rows.map(r => [r.cells[0].innerText.trim(), "
        "r.querySelector('.code').innerText.trim()])")]


def _csv_keys(page: Page, link: str) -> tuple[str, list[tuple[str, str]]]:
    """The CSV behind ``link`` on ``page``: its first line, and (year, LEA) of every row."""
    with page.expect_download() as download:
        page.get_by_role("link", name=link).click()
    lines = Path(download.value.path()).read_text().splitlines()
    header = lines[1].split(",")
    year, lea = header.index("academic_year"), header.index("reporting_lea")
    return lines[0], [(r[year], r[lea]) for r in csv.reader(lines[2:])]


def test_the_public_dashboard_says_what_the_data_says(portal: Portal) -> None:
    p = portal
    outside: list[str] = []
    public = p.page()
    public.on("request", lambda r: None if r.url.startswith(p.base) or r.url.startswith(
        "data:") else outside.append(r.url))
    public.goto(f"{p.base}/")  # the bare address leads to the portal
    expect(public).to_have_url(f"{p.base}/portal")
    public.goto(f"{p.base}/portal/public")
    p.check(public, "public-dashboard")
    # long district names wrap inside the chart instead of being cut or running off it
    labels = public.locator("svg.chart g > text")
    expect(labels.first).to_be_visible()
    lefts = labels.evaluate_all("els => els.map(e => e.getBBox().x)")
    assert lefts and min(lefts) >= 0, lefts
    expect(public.locator("svg.chart")).to_contain_text("Central Valley Unified School District")
    # labels in words, the defaults shown as the selected choices
    expect(public.get_by_label("Student group")).to_have_value("all:all")
    expect(public.locator("#rows")).to_contain_text("All students")
    public.get_by_label("Academic year").select_option("2022-23")
    public.get_by_label("Outcome").select_option("cte_completer")
    public.get_by_role("button", name="Show").click()
    expect(public.locator("#rows")).to_contain_text("Completed a CTE pathway")
    expect(public.locator("#rows")).not_to_contain_text("2023-24")
    p.check(public, "public-filtered")
    shown = _table_keys(public)
    first_line, in_csv = _csv_keys(public, f"Download all {len(shown)} rows as CSV")
    assert in_csv == shown  # the CSV is the rows on the screen
    assert first_line.startswith("# c2c-link published outcomes; snapshot run-1;")
    assert "rounded to a multiple of 5" in first_line
    # a name matching several districts shows them all, says so, and the CSV follows it
    public.goto(f"{p.base}/portal/public?find=Unified&year=2022-23&metric=cte_completer")
    expect(public.get_by_role("status").first).to_contain_text(
        "3 districts and charters match 'Unified'")
    shown = _table_keys(public)
    assert len({lea for _, lea in shown}) == 3
    assert _csv_keys(public, f"Download all {len(shown)} rows as CSV")[1] == shown
    # every group of one kind, side by side; every outcome as a real choice
    public.goto(f"{p.base}/portal/public?group=gender:*&metric=*&year=2022-23&lea={LEA}")
    groups = public.locator("#rows tbody tr td:nth-child(3)").all_inner_texts()
    assert {"Gender: female", "Gender: male"} <= set(groups) and "All students" not in groups
    assert len(set(public.locator("#rows tbody tr td:nth-child(4)").all_inner_texts())) > 1
    # one district: its trend over the years against the state, with a table of the numbers
    public.goto(f"{p.base}/portal/public?lea={LEA}&metric=cte_completer&group=all:all")
    expect(public.locator("#trend svg.chart")).to_be_visible()
    trend = public.locator("#trend tbody tr").all_inner_texts()
    years = [row.split()[0] for row in public.locator("#rows tbody tr").all_inner_texts()]
    assert len(trend) == len(years) == 2
    p.check(public, "public-trend")
    # an unknown value is a clear message naming the choices, never an empty table
    public.goto(f"{p.base}/portal/public?year=2023")
    expect(public.get_by_role("alert")).to_contain_text("valid choices: 2022-23, 2023-24")
    p.check(public, "public-unknown-filter")
    public.goto(f"{p.base}/portal/public?find=Nowhere")
    expect(public.get_by_role("alert")).to_contain_text("No district or charter")
    public.goto(f"{p.base}/portal/public/requests")
    p.check(public, "public-request-log")
    assert outside == [], f"the portal loaded something from elsewhere: {outside}"
    assert p.violations == {}, "axe-core WCAG 2 A/AA violations:\n" + "\n".join(
        f"{page}: {v}" for page, vs in p.violations.items() for v in vs)


def _overflowing(page: Page) -> list[str]:
    """Tables wider than their container, and a page wider than the screen."""
    return list(page.evaluate("""() => {
        const bad = [...document.querySelectorAll('table')].filter(
            t => t.scrollWidth > t.parentElement.clientWidth + 1).map(
            t => (t.caption ? t.caption.innerText : t.id) + ' ' + t.scrollWidth + '>' +
                 t.parentElement.clientWidth);
        if (document.documentElement.scrollWidth > window.innerWidth + 1)
            bad.push('page ' + document.documentElement.scrollWidth);
        return bad; }"""))


def test_at_375_px_no_table_overflows_and_chart_text_is_readable(portal: Portal) -> None:
    p = portal
    phone = p.browser.new_context(viewport={"width": 375, "height": 812}).new_page()
    pages = ["/portal/public?year=2022-23", "/portal/public", f"/portal/public?lea={LEA}",
             "/portal/public/requests"]
    for path in pages:
        phone.goto(f"{p.base}{path}")
        assert _overflowing(phone) == [], path
    phone.goto(f"{p.base}/portal/public?year=2022-23")
    sizes = phone.locator("svg.chart text").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)")
    assert sizes and min(sizes) >= 9, sizes  # was about 5 px before
    p.check(phone, "phone-public")
    p.sign_in(phone, "researcher")
    for path in ("/portal/researcher", "/portal/researcher/new", "/portal/researcher/catalog"):
        phone.goto(f"{p.base}{path}")
        assert _overflowing(phone) == [], path
    p.check(phone, "phone-researcher-catalog")
    assert p.violations == {}, p.violations


def test_every_role_does_its_job_in_a_browser(portal: Portal, generated: Path) -> None:
    p = portal
    outside: list[str] = []

    # -- the public's pages are checked in test_the_public_dashboard_says_what_the_data_says
    public = p.page()
    public.on("request", lambda r: None if r.url.startswith(p.base) or r.url.startswith(
        "data:") else outside.append(r.url))
    public.goto(f"{p.base}/docs")
    expect(public.locator(".swagger-ui .info")).to_be_visible(timeout=15_000)
    public.screenshot(path=str(p.shots / "docs.png"))

    # -- partner: several files at once, a receipt for each, the member list
    partner = p.page()
    p.sign_in(partner, "partner")
    expect(partner).to_have_url(f"{p.base}/portal/partner")
    p.check(partner, "partner-home")
    folder = generated / "calpads" / LEA / "2022-23"
    partner.get_by_label("Files (CALPADS").set_input_files(
        [str(folder / "SENR 2022-23.txt"), str(folder / "SINF 2022-23.txt")])
    partner.get_by_role("button", name="Upload").click()
    expect(partner.get_by_role("status")).to_contain_text("All files were accepted")
    expect(partner.locator("#upload-progress")).to_have_count(0)  # the receipts replaced the form
    expect(partner.locator("article.receipt")).to_have_count(2)
    p.check(partner, "partner-receipts")
    partner.goto(f"{p.base}/portal/partner")
    expect(partner.get_by_role("table").first).to_contain_text("2022-23")
    p.check(partner, "partner-member-list")

    # -- researcher: catalog, a request with its disclosure preview, submit
    researcher = p.page()
    p.sign_in(researcher, "researcher")
    researcher.goto(f"{p.base}/portal/researcher/catalog")
    expect(researcher.get_by_role("table")).to_contain_text("race_ethnicity")
    p.check(researcher, "researcher-catalog")
    researcher.goto(f"{p.base}/portal/researcher/new")
    researcher.get_by_label("Individual-level extract").check()
    researcher.get_by_label("Title").fill("Birth cohorts and CTE")
    researcher.get_by_label("Purpose").fill("Does CTE completion differ by birth cohort?")
    for name in ("birth_year", "gender", "race_ethnicity", "cte_completer"):
        researcher.get_by_label(name, exact=True).first.check()
    researcher.get_by_label("research-training").check()
    researcher.get_by_label("IRB approval reference").fill("IRB-2026-41")
    preview = researcher.locator("#preview")
    # refreshed as the form changes (portal.js) ...
    expect(preview).to_contain_text("Rows you would receive")
    researcher.get_by_label("school_code", exact=True).first.check()
    expect(preview).to_contain_text("school_code")
    researcher.get_by_label("school_code", exact=True).first.uncheck()
    # ... and by the plain button, which works without scripts
    researcher.get_by_role("button", name="Preview disclosure").click()
    expect(preview).to_contain_text("Rows you would receive")
    expect(preview).to_contain_text("Rows suppressed at k = 11")
    p.check(researcher, "researcher-preview")
    researcher.get_by_role("button", name="Submit to the board").click()
    expect(researcher.get_by_text("0 of 2 approvals so far")).to_be_visible()
    rid = researcher.url.rsplit("/", 1)[1]
    p.check(researcher, "researcher-submitted")
    # -- the partners' data stewards review first: LEA's on its page, the others' directly
    steward = p.page()
    p.sign_in(steward, "steward")
    expect(steward).to_have_url(f"{p.base}/portal/steward")
    expect(steward.get_by_role("heading", name=f"{rid}: Birth cohorts and CTE")).to_be_visible()
    p.check(steward, "steward-queue")
    steward.get_by_label("Approve").check()
    steward.get_by_label("Reason").fill("Within our agreement's research purpose")
    steward.get_by_role("button", name="Send answer").click()
    expect(steward.get_by_text("Nothing is waiting for your review")).to_be_visible()
    p.check(steward, "steward-history")
    with p.sessions.begin() as s:
        clear_provider_review(s, rid)

    # -- two board members approve with a reason, after reading the preview and the requester
    for who in ("board", "board_2"):
        board = p.page()
        p.sign_in(board, who)
        board.get_by_role("link", name=rid).click()
        expect(board.locator("#preview")).to_contain_text("Rows you would receive")
        expect(board.get_by_text("IRB-2026-41")).to_be_visible()
        p.check(board, f"{who}-request")
        board.get_by_label("Approve").check()
        board.get_by_label("Reason").fill(f"IRB and training in order ({who})")
        board.get_by_role("button", name="Record decision").click()
        expect(board.locator("dl.facts").first).to_contain_text("approvals")
        p.check(board, f"{who}-decided")
    expect(board.locator("dl.facts").first).to_contain_text("approved")

    # -- the pipeline fulfils; the researcher downloads; the board reads the release report
    _fulfil(p)
    # -- two output checkers read the release report and release it
    for who in ("checker", "checker_2"):
        checker = p.page()
        p.sign_in(checker, who)
        expect(checker).to_have_url(f"{p.base}/portal/checker")
        p.check(checker, f"{who}-queue")
        checker.get_by_role("link", name=rid).click()
        expect(checker.get_by_role("table", name="Automated output checks")).to_contain_text(
            "pass")
        # the checker sees the output itself: the extract's first rows, read from the package
        expect(checker.locator("#output-table thead")).to_contain_text("cte_completer")
        assert checker.locator("#output-table tbody tr").count() > 0
        p.check(checker, f"{who}-report")
        checker.get_by_label("Approve the release").check()
        checker.get_by_label("Reason").fill(f"Cells and k in order ({who})")
        checker.get_by_role("button", name="Record check").click()
        expect(checker.locator("dl.facts").first).to_contain_text("approve,")
        expect(checker.locator("#my-check")).to_contain_text(f"Cells and k in order ({who})")
    expect(checker.locator("dl.facts").first).to_contain_text("released")
    steward.goto(f"{p.base}/portal/steward")
    expect(steward.locator("#usage-h + table")).to_contain_text("yes")
    p.check(steward, "steward-usage")
    researcher.goto(f"{p.base}/portal/researcher/requests/{rid}")
    expect(researcher.locator("#stage")).to_have_text("released")
    p.check(researcher, "researcher-fulfilled")
    with researcher.expect_download() as package:
        researcher.get_by_role("link", name="Download the encrypted package").click()
    got = Path(package.value.path()).read_bytes()
    on_disk = next(p.settings.extracts_dir.glob(f"{rid}*")).read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(on_disk).digest()
    board.goto(f"{p.base}/portal/board/requests/{rid}")
    expect(board.get_by_text("Release report")).to_be_visible()
    p.check(board, "board-release-report")

    assert outside == [], f"the portal loaded something from elsewhere: {outside}"
    assert p.violations == {}, "axe-core WCAG 2 A/AA violations:\n" + "\n".join(
        f"{page}: {v}" for page, vs in p.violations.items() for v in vs)
    assert len(list(p.shots.glob("*.png"))) >= 15


def test_a_rejected_output_offers_no_download_and_says_why(portal: Portal) -> None:
    """The researcher's pages in a browser after two checkers rejected the output: the stage
    says so, every reason is there, the withheld variable is named, nothing to download."""
    import json
    import urllib.request

    from governance import extract_registry as gr

    p = portal

    def api(method: str, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            p.base + path, method=method, data=json.dumps(body).encode() if body else None,
            headers={"Authorization": f"Bearer {p.keys[who]}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    rid = api("POST", "/v1/requests", "researcher", {
        "kind": "aggregate", "title": "College going by gender",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"],
        "cohort": {"reporting_leas": [LEA]}})["id"]
    api("POST", f"/v1/requests/{rid}/submit", "researcher")
    with p.sessions.begin() as s:
        clear_provider_review(s, rid)
    for who in ("board", "board_2"):
        api("POST", f"/v1/board/requests/{rid}/decisions", who,
            {"decision": "approve", "reason": f"sound design ({who})"})
    package = p.settings.extracts_dir / f"{rid}.tar.age"
    package.parent.mkdir(parents=True, exist_ok=True)
    package.write_bytes(b"stands in for the built package")
    with p.sessions.begin() as s:
        gr.mark_fulfilled(s, rid, gr.ExtractInfo(
            package_path=str(package), sha256="a" * 64,
            detail={"rows": 4, "output_checks": [{"check": "min_cell", "passed": True}]}))
    for who, why in (("checker", "rates too precise"), ("checker_2", "a cell differences")):
        api("POST", f"/v1/checker/requests/{rid}/decisions", who,
            {"decision": "reject", "reason": why})
    answer = api("GET", f"/v1/requests/{rid}", "researcher")
    assert answer["stage"] == "rejected at checking"

    researcher = p.page()
    p.sign_in(researcher, "researcher")
    row = researcher.get_by_role("row").filter(has_text=rid)
    expect(row.locator("td.stage")).to_have_text(answer["stage"])
    expect(row).not_to_contain_text("download")
    researcher.get_by_role("link", name=rid).click()
    expect(researcher.locator("#stage")).to_have_text(answer["stage"])
    for reason in answer["reasons"]:
        expect(researcher.locator("#reasons")).to_contain_text(reason["reason"])
    expect(researcher.locator("#withheld")).to_contain_text(
        f"cc_enrolled_within_1yr: withheld because {answer['withheld'][0]['reason']}")
    expect(researcher.locator("#no-download")).to_be_visible()
    assert researcher.get_by_role("link", name="Download").count() == 0
    assert researcher.get_by_role("button", name="Show the key").count() == 0
    p.check(researcher, "researcher-rejected-output")
    public = p.page()
    public.goto(f"{p.base}/portal/public/requests")
    expect(public.get_by_role("row").filter(has_text=rid).locator("td.stage")).to_have_text(
        answer["stage"])
    assert p.violations == {}, p.violations
