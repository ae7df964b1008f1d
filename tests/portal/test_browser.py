"""Each role's whole path in a real Chromium against a real uvicorn on loopback (issue 27):
clerk (partner), researcher, data steward, board member, output checker and the public, one
test each, asserting what the pages say, not only that they load.

Real parts only: Debian's ``chromium`` driven by Playwright (nothing downloads a browser), the
app served by uvicorn, the encrypted warehouse with a synthetic ``analytics.student_year``,
generated partner files, the pipeline's own fulfilment function and the ``age`` command.
Every page is checked with axe-core (WCAG 2.0/2.1 A and AA; the axe.min.js that
axe-playwright-python ships, nothing fetched) and screenshotted into
``$C2C_SCREENSHOT_DIR/<test>`` (default: the test's tmp dir); each role's pages are also
opened 375 px wide, where no table may overflow its container.

Skipped, with the reason, when Chromium or Playwright is missing: install with
``apt-get install -y chromium`` and ``pip install playwright==1.65.2 axe-playwright-python==0.1.8``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from governance.extract_registry import ExtractInfo, individual_extracts, mark_fulfilled
from tests.api_support import LEA, OTHER_LEA, write_serving_snapshot
from tests.deid_support import student_year_sql
from tests.governance_fixtures import clear_provider_review

CHROMIUM = os.environ.get("C2C_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists() and shutil.which("chromium"):
    CHROMIUM = shutil.which("chromium") or CHROMIUM

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
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
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(self, **options: Any) -> Page:
        """A page in a fresh context: nobody shares cookies with anybody else, nor with an
        earlier test (the module shares one Chromium; each test closes its contexts)."""
        context = self.browser.new_context(bypass_csp=False, accept_downloads=True, **options)
        self.contexts.append(context)
        return context.new_page()

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

    def on_phone(self, who: str | None, paths: list[str]) -> None:
        """The role's pages 375 px wide: no table wider than its container, no page wider
        than the screen; each screenshotted and scanned."""
        phone = self.page(viewport={"width": 375, "height": 812})
        if who:
            self.sign_in(phone, who)
        for n, path in enumerate(paths):
            phone.goto(f"{self.base}{path}")
            assert _overflowing(phone) == [], path
            self.check(phone, f"phone-{who or 'public'}-{n}")

    def api(self, method: str, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
        """The API over real HTTP, as a role's own tools would call it."""
        req = urllib.request.Request(
            self.base + path, method=method,
            data=json.dumps(body).encode() if body else None,
            headers={"Authorization": f"Bearer {self.keys[who]}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def violations_none(self) -> None:
        assert self.violations == {}, "axe-core WCAG 2 A/AA violations:\n" + "\n".join(
            f"{page}: {v}" for page, vs in self.violations.items() for v in vs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module's walks (starting it is a good part of a short walk's
    cost); each test gets its own server, store and browser contexts."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def portal(tmp_path: Path, generated: Path, browser: Browser,
           request: pytest.FixtureRequest) -> Iterator[Portal]:
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
    # Screenshots where a person can look at them afterwards ($C2C_SCREENSHOT_DIR).
    root = os.environ.get("C2C_SCREENSHOT_DIR")
    shots = (Path(root) if root else tmp_path / "screenshots") / request.node.name
    shots.mkdir(parents=True, exist_ok=True)
    portal = Portal(f"http://127.0.0.1:{port}", keys, settings, sessions, shots, browser, {},
                    Axe())
    try:
        yield portal
    finally:
        for context in portal.contexts:
            context.close()
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def _fulfil(p: Portal) -> None:
    """What the pipeline's research_extracts asset does for a request at quorum (the demo's
    build loop and the Dagster sensor run the same routine)."""
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
    missing: list[str] = []
    public.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    public.goto(f"{p.base}/")  # the bare address leads to the portal
    expect(public).to_have_url(f"{p.base}/portal")
    assert public.request.get(f"{p.base}/favicon.ico").status == 200
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
    assert missing == [], f"pages asked for what is not there (a favicon?): {missing}"
    p.violations_none()


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
    phone = p.page(viewport={"width": 375, "height": 812})
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


# -- helpers for the roles' paths: what happened before the role's turn, done the way the
# -- service does it (the API over HTTP, provider review through stewards, the real build)

COLLEGE = "Foothill Ridge College (951)"  # the generated registry's college without agreement
CC = "Enrolled in a community college within a year (cc_enrolled_within_1yr)"
CC_WITHHELD = f"{CC}: withheld because {COLLEGE} has no active data-sharing agreement"
INDIVIDUAL: dict[str, Any] = {"kind": "individual", "title": "Birth cohorts and CTE",
              "purpose": "Does CTE completion differ by birth cohort?",
              "variables": ["birth_year", "gender", "cte_completer", "cc_enrolled_within_1yr"],
              "training_attested": True, "irb_reference": "IRB-2026-41"}


def _submitted(p: Portal, body: dict[str, Any]) -> str:
    rid = str(p.api("POST", "/v1/requests", "researcher", body)["id"])
    p.api("POST", f"/v1/requests/{rid}/submit", "researcher")
    return rid


def _reviewed(p: Portal, rid: str) -> None:
    with p.sessions.begin() as s:
        clear_provider_review(s, rid)


def _approved(p: Portal, rid: str) -> None:
    for who in ("board", "board_2"):
        p.api("POST", f"/v1/board/requests/{rid}/decisions", who,
              {"decision": "approve", "reason": f"IRB and training in order ({who})"})


def _released(p: Portal, rid: str) -> None:
    for who in ("checker", "checker_2"):
        p.api("POST", f"/v1/checker/requests/{rid}/decisions", who,
              {"decision": "approve", "reason": f"cells and k in order ({who})"})


def _no_outside_requests(p: Portal, page: Page, outside: list[str]) -> None:
    page.on("request", lambda r: None if r.url.startswith(p.base) or r.url.startswith(
        "data:") else outside.append(r.url))


def test_clerk_sends_files_reads_receipts_and_fixes_a_wrong_file(portal: Portal,
                                                                 generated: Path) -> None:
    """A district's clerk: several files at once with a receipt each, a file of another LEA
    as one grouped line naming both LEAs, receipts searchable, the member list."""
    p = portal
    outside: list[str] = []
    partner = p.page()
    _no_outside_requests(p, partner, outside)
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
    # the wrong district's file: one line saying how many rows, naming both LEAs
    other = generated / "calpads" / OTHER_LEA / "2022-23" / "SENR 2022-23.txt"
    partner.goto(f"{p.base}/portal/partner")
    partner.get_by_label("Files (CALPADS").set_input_files([str(other)])
    partner.get_by_role("button", name="Upload").click()
    errors = partner.locator("article.receipt table.errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text(f"the record names LEA {OTHER_LEA}, you are LEA {LEA}")
    assert int(errors.locator("td").first.inner_text()) > 1
    p.check(partner, "partner-rejected-file")
    # receipts: all three listed, searchable
    partner.goto(f"{p.base}/portal/partner")
    expect(partner.get_by_role("table").first).to_contain_text("2022-23")
    expect(partner.locator("article.receipt")).to_have_count(3)
    partner.get_by_label("Find a receipt").fill("SINF")
    partner.get_by_role("button", name="Find").click()
    expect(partner.locator("#receipt-count")).to_contain_text("1 of 3 receipts match")
    expect(partner.locator("article.receipt h3")).to_have_text(["SINF 2022-23.txt"])
    p.check(partner, "partner-member-list")
    p.on_phone("partner", ["/portal/partner"])
    assert outside == [], f"the portal loaded something from elsewhere: {outside}"
    p.violations_none()


def test_researcher_writes_a_request_and_opens_the_released_extract(portal: Portal,
                                                                    tmp_path: Path) -> None:
    """A researcher: names and codes on the form, the withheld variable named with why
    before submit (and left out of the preview's figures), a failed submit that keeps the
    form and creates nothing, a draft edited then submitted, and once released the package
    opened with the one command the key page gives; the data holds what the pages said."""
    p = portal
    outside: list[str] = []
    researcher = p.page()
    _no_outside_requests(p, researcher, outside)
    p.sign_in(researcher, "researcher")
    researcher.goto(f"{p.base}/portal/researcher/catalog")
    expect(researcher.get_by_role("table")).to_contain_text("race_ethnicity")
    p.check(researcher, "researcher-catalog")
    researcher.goto(f"{p.base}/portal/researcher/new")
    form = researcher.locator("#request-form")
    # names with their codes: variables, groups, districts
    expect(form).to_contain_text("Met UC/CSU a-g requirements (ag_eligible)")
    expect(form).to_contain_text("Race/ethnicity (race_ethnicity)")
    expect(form.locator("#leas option").first).to_have_text(re.compile(r".+ \(\d{7}\)$"))
    researcher.get_by_label("Individual-level extract").check()
    researcher.get_by_label("Title").fill(INDIVIDUAL["title"])
    researcher.get_by_label("Purpose").fill("short")  # too short: Submit must refuse
    for code in INDIVIDUAL["variables"]:
        form.locator(f'input[name="variables"][value="{code}"]').check()
    researcher.get_by_label("research-training").check()
    researcher.get_by_label("IRB approval reference").fill(INDIVIDUAL["irb_reference"])
    preview = researcher.locator("#preview")
    # the withheld variable is named with why as the form changes (portal.js) ...
    expect(preview.locator("#withheld-before")).to_contain_text(CC_WITHHELD)
    # ... and by the plain button, with figures that leave it out
    researcher.get_by_role("button", name="Preview disclosure").click()
    expect(preview).to_contain_text("Rows you would receive")
    expect(preview.locator("#withheld-before")).to_contain_text(CC_WITHHELD)
    expect(preview.locator("dl.facts")).not_to_contain_text("cc_enrolled_within_1yr")
    p.check(researcher, "researcher-preview")
    # a Submit that is refused keeps the form and creates nothing
    researcher.get_by_role("button", name="Submit to the board").click()
    expect(researcher.get_by_role("alert").first).to_contain_text("purpose")
    expect(researcher.get_by_label("Title")).to_have_value(INDIVIDUAL["title"])
    assert p.api("GET", "/v1/requests", "researcher")["data"] == []
    p.check(researcher, "researcher-refused-submit")
    # a draft, edited, then submitted
    researcher.get_by_label("Purpose").fill(INDIVIDUAL["purpose"])
    researcher.get_by_role("button", name="Save as draft").click()
    expect(researcher.locator("#stage")).to_have_text("draft")
    expect(researcher.locator("#withheld")).to_contain_text(CC_WITHHELD)
    rid = researcher.url.rsplit("/", 1)[1]
    researcher.get_by_role("link", name="Edit this draft").click()
    expect(researcher.get_by_label("Purpose")).to_have_value(INDIVIDUAL["purpose"])
    researcher.get_by_label("Title").fill("Birth cohorts, CTE and college")
    researcher.get_by_role("button", name="Save as draft").click()
    expect(researcher.get_by_role("heading", level=1)).to_contain_text(
        "Birth cohorts, CTE and college")
    researcher.get_by_role("button", name="Submit to the board").click()
    expect(researcher.locator("#stage")).to_have_text("awaiting review")
    expect(researcher.get_by_text("they review the use of their records first")).to_be_visible()
    p.check(researcher, "researcher-submitted")
    assert [r["id"] for r in p.api("GET", "/v1/requests", "researcher")["data"]] == [rid]

    # stewards, the board, the build and two checkers do their part
    _reviewed(p, rid)
    _approved(p, rid)
    _fulfil(p)
    _released(p, rid)

    researcher.goto(f"{p.base}/portal/researcher")
    row = researcher.get_by_role("row").filter(has_text=rid)
    expect(row.locator("td.stage")).to_have_text("released")
    expect(row).to_contain_text("download")
    p.check(researcher, "researcher-home")
    researcher.get_by_role("link", name=rid).click()
    expect(researcher.locator("#stage")).to_have_text("released")
    expect(researcher.locator("#withheld")).to_contain_text(CC_WITHHELD)
    expect(researcher.locator("#reasons")).to_contain_text("cells and k in order (checker_2)")
    p.check(researcher, "researcher-released")
    with researcher.expect_download() as package:
        researcher.get_by_role("link", name="Download the encrypted package").click()
    got = Path(package.value.path()).read_bytes()
    on_disk = next(p.settings.extracts_dir.glob(f"{rid}*")).read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(on_disk).digest()
    researcher.get_by_role("button", name="Show the key that opens it").click()
    command = researcher.locator("#command").inner_text().strip()
    assert command == f"age -d -i {rid}-key.txt {rid}.tar.age | tar -x"
    p.check(researcher, "researcher-key")
    with researcher.expect_download() as key_file:
        researcher.get_by_role("button", name=re.compile("Download the key file")).click()
    folder = tmp_path / "opened"
    folder.mkdir()
    (folder / f"{rid}.tar.age").write_bytes(got)
    (folder / f"{rid}-key.txt").write_bytes(Path(key_file.value.path()).read_bytes())
    if shutil.which("age"):  # the one command, as printed, in the folder holding both
        subprocess.run(["bash", "-c", command], cwd=folder, check=True, timeout=60)
        header = next(csv.reader((folder / "data.csv").read_text().splitlines()))
        assert "cte_completer" in header  # what the pages said: cc_* withheld, the rest there
        assert not any(c.startswith("cc_") for c in header), header
    p.on_phone("researcher", ["/portal/researcher", "/portal/researcher/new",
                              "/portal/researcher/catalog", f"/portal/researcher/requests/{rid}"])
    assert outside == [], f"the portal loaded something from elsewhere: {outside}"
    p.violations_none()


def test_steward_reviews_only_their_records_and_sees_who_used_them(portal: Portal) -> None:
    """A district's data steward: the request over their district, with names and codes and
    the withheld variable; not a request over another district; the answer recorded and
    shown; then who used the records and what left."""
    p = portal
    aggregate = {"kind": "aggregate", "title": "CTE by gender",
                 "purpose": "How does CTE completion differ by gender?",
                 "variables": ["cte_completer", "cc_enrolled_within_1yr"],
                 "group_by": ["gender"], "cohort": {"reporting_leas": [LEA]}}
    rid = _submitted(p, aggregate)
    elsewhere = _submitted(p, {**aggregate, "title": "Elsewhere",
                               "variables": ["cte_completer"],
                               "cohort": {"reporting_leas": [OTHER_LEA]}})
    steward = p.page()
    p.sign_in(steward, "steward")
    expect(steward).to_have_url(f"{p.base}/portal/steward")
    card = steward.locator("article.card").filter(has_text=rid)
    expect(card.get_by_role("heading")).to_have_text(f"{rid}: CTE by gender")
    expect(card).to_contain_text(f"({LEA})")  # the district by name and code
    expect(card).to_contain_text("Gender (gender)")
    expect(card.locator(".withheld")).to_contain_text(CC_WITHHELD)
    # not the other district's request: it uses none of this district's records
    expect(steward.locator("#queue-h ~ article")).to_have_count(1)
    expect(steward.get_by_text(elsewhere)).to_have_count(0)
    p.check(steward, "steward-queue")
    card.get_by_label("Approve").check()
    card.get_by_label("Reason").fill("Within our agreement's research purpose")
    card.get_by_role("button", name="Send answer").click()
    expect(steward.get_by_text("Nothing is waiting for your review")).to_be_visible()
    history = steward.get_by_role("table", name="Requests already reviewed or closed")
    expect(history.get_by_role("row").filter(has_text=rid)).to_contain_text(
        "Within our agreement's research purpose")
    p.check(steward, "steward-answered")
    said = p.api("GET", f"/v1/requests/{rid}", "researcher")["reasons"]
    assert "Within our agreement's research purpose" in [r["reason"] for r in said]
    _reviewed(p, rid)
    _approved(p, rid)
    _fulfil(p)
    _released(p, rid)
    steward.goto(f"{p.base}/portal/steward")
    usage = steward.get_by_role("table", name="Every request routed to your organisation, "
                                "and what left").get_by_role("row").filter(has_text=rid)
    expect(usage).to_contain_text("released")
    expect(usage).to_contain_text("yes")
    p.check(steward, "steward-usage")
    p.on_phone("steward", ["/portal/steward"])
    p.violations_none()


def test_board_member_judges_a_request_and_sees_the_decision_stand(portal: Portal) -> None:
    """Two board members: each reads the request (withheld variable named, its preview, the
    requester, IRB), decides with a reason and then sees the decision, never a form that
    could only be refused; the release report once it is built."""
    p = portal
    rid = _submitted(p, INDIVIDUAL)
    _reviewed(p, rid)
    for who in ("board", "board_2"):
        board = p.page()
        p.sign_in(board, who)
        board.get_by_role("link", name=rid).click()
        expect(board.locator("#withheld")).to_contain_text(CC_WITHHELD)
        expect(board.locator("#preview")).to_contain_text("Rows you would receive")
        expect(board.locator("#preview #withheld-before")).to_contain_text(CC_WITHHELD)
        expect(board.get_by_text("IRB-2026-41")).to_be_visible()
        p.check(board, f"{who}-request")
        board.get_by_label("Approve").check()
        board.get_by_label("Reason").fill(f"IRB and training in order ({who})")
        board.get_by_role("button", name="Record decision").click()
        expect(board.locator("#my-decision")).to_contain_text(
            f"IRB and training in order ({who})")
        assert board.get_by_role("button", name="Record decision").count() == 0
        p.check(board, f"{who}-decided")
    expect(board.locator("#stage")).to_contain_text("approved")
    _fulfil(p)
    board.goto(f"{p.base}/portal/board/requests/{rid}")
    expect(board.get_by_role("heading", name="Release report")).to_be_visible()
    p.check(board, "board-release-report")
    # a denial's reason reaches the requester
    denied = _submitted(p, {**INDIVIDUAL, "title": "Too fine"})
    board.goto(f"{p.base}/portal/board/requests/{denied}")
    board.get_by_label("Deny").check()
    board.get_by_label("Reason").fill("School codes with birth years are too fine")
    board.get_by_role("button", name="Record decision").click()
    expect(board.locator("#stage")).to_contain_text("denied")
    answer = p.api("GET", f"/v1/requests/{denied}", "researcher")
    assert answer["stage"] == "denied"
    assert "School codes with birth years are too fine" in [r["reason"] for r in answer["reasons"]]
    p.on_phone("board", ["/portal/board", f"/portal/board/requests/{rid}"])
    p.violations_none()


def test_checkers_see_the_output_reject_it_and_the_researcher_is_told(portal: Portal) -> None:
    """Two output checkers: the release report separates what an agreement withheld from
    what disclosure control suppressed, the output's cells (a random sample of the extract)
    and its disclosure report; both reject with reasons. The researcher then sees the stage,
    every reason and no download; the public log says the same."""
    p = portal
    rid = _submitted(p, INDIVIDUAL)
    _reviewed(p, rid)
    _approved(p, rid)
    _fulfil(p)
    for who, why in (("checker", "birth years with gender are too fine"),
                     ("checker_2", "a row can be singled out")):
        checker = p.page()
        p.sign_in(checker, who)
        expect(checker).to_have_url(f"{p.base}/portal/checker")
        p.check(checker, f"{who}-queue")
        checker.get_by_role("link", name=rid).click()
        report = checker.locator("dl.facts").first
        expect(report.locator("#withheld")).to_have_text(CC_WITHHELD)
        expect(report).to_contain_text("Rows suppressed for disclosure control")
        expect(checker.get_by_role("table", name="Automated output checks")).to_contain_text(
            "pass")
        # the cells themselves: a sample drawn from the whole extract, and its report
        table = checker.locator("#output-table")
        expect(table.locator("thead")).to_contain_text("cte_completer")
        assert "cc_enrolled_within_1yr" not in table.locator("thead").inner_text()
        assert table.locator("tbody tr").count() == 50
        expect(checker.locator("#out-h")).to_contain_text("drawn at random")
        expect(checker.locator("#disclosure-report")).to_contain_text("k (fewest people")
        expect(checker.locator("#disclosure-report")).to_contain_text("Identifier scan")
        assert _overflowing(checker) == []
        p.check(checker, f"{who}-report")
        checker.get_by_label("Reject").check()
        checker.get_by_label("Reason").fill(why)
        checker.get_by_role("button", name="Record check").click()
        expect(checker.locator("#my-check")).to_contain_text(why)
        assert checker.get_by_role("button", name="Record check").count() == 0
    expect(checker.locator("dl.facts").first).to_contain_text("rejected")
    answer = p.api("GET", f"/v1/requests/{rid}", "researcher")
    assert answer["stage"] == "rejected at checking"

    researcher = p.page()
    p.sign_in(researcher, "researcher")
    row = researcher.get_by_role("row").filter(has_text=rid)
    expect(row.locator("td.stage")).to_have_text(answer["stage"])
    expect(row).not_to_contain_text("download")
    researcher.get_by_role("link", name=rid).click()
    expect(researcher.locator("#stage")).to_have_text(answer["stage"])
    said = [r["reason"] for r in answer["reasons"]]
    assert {"birth years with gender are too fine", "a row can be singled out",
            "fits our agreement", "IRB and training in order (board)"} <= set(said)
    for reason in said:
        expect(researcher.locator("#reasons")).to_contain_text(reason)
    expect(researcher.locator("#withheld")).to_contain_text(CC_WITHHELD)
    expect(researcher.locator("#no-download")).to_be_visible()
    assert researcher.get_by_role("link", name=re.compile("Download")).count() == 0
    assert researcher.get_by_role("button", name=re.compile("key")).count() == 0
    p.check(researcher, "researcher-rejected-output")
    public = p.page()
    public.goto(f"{p.base}/portal/public/requests")
    expect(public.get_by_role("row").filter(has_text=rid).locator("td.stage")).to_have_text(
        answer["stage"])
    p.on_phone("checker", ["/portal/checker", f"/portal/checker/requests/{rid}"])
    p.violations_none()
