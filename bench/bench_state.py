"""Every stage at the statewide structure: time and peak memory, stage by stage.

Generates the state world (2,376 LEAs, 116 colleges, CCGI; ``synth.world``) at a student count
that fits here (``--scale`` 1%, 10% or 100% of California's students), then runs each stage in
its own process (so each peak RSS and CPU figure is that stage's own, and the disk the stores
take is measured after it):
generate, partner import, ingest, link, outcomes, publish, submissions report, Dagster
definitions load; then serves the API with uvicorn on 127.0.0.1 and times the list routes
(partners, a partner's submissions, public aggregates), walking pages. Prints a table with the
targets of issue 13; asserts nothing.

    .venv/bin/python bench/bench_state.py [--students 20000] [--years 2022-23,2023-24]
        [--defects all] [--requests 200] [--keep DIR]
    .venv/bin/python bench/bench_state.py --scale 10% --years 2023-24   (issue 26's pipeline)
    .venv/bin/python bench/bench_state.py --scale 100% --years 2023-24 --until ingest
    .venv/bin/python bench/bench_state.py --keep DIR --only api [--requests 1000]
        (one stage, or the list routes, again on a world an earlier run kept)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {  # stage -> (seconds, text); issue 13 and DESIGN.md
    "partner import": (10.0, "< 10 s for 2,500 partners"),
    "submissions report": (10.0, "< 10 s"),
    "dagster defs load": (5.0, "< 5 s"),
    "publish": (120.0, "< 2 min statewide (issue of its own; printed here)"),
}
STAGES = ("generate", "migrate", "partner import", "ingest", "link", "outcomes", "publish",
          "submissions report", "dagster defs load")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _settings(home: Path):  # type: ignore[no-untyped-def]
    from core.settings import Settings

    return Settings(home=home)


# -- stages, each run in a child process -------------------------------------------------------
def stage_generate(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    from synth import generate

    summary = generate(data, students=args.students, seed=args.seed,
                       years=args.years.split(","), world=args.world,
                       defects=args.defects or None)
    return {"files": summary.files, "MB": round(summary.bytes / 1e6, 1),
            "people": summary.people}


def stage_migrate(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    """``c2c keys init`` and ``c2c migrate``: the set-up before the registry is imported."""
    from core.keys import create_master_key
    from governance.db import upgrade

    settings = _settings(home)
    if not settings.master_key_path.exists():
        create_master_key(settings.master_key_path)
    upgrade(settings.governance_url)
    return {}


def stage_partner_import(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    from governance.db import session_factory
    from governance.partners import import_partners_csv

    settings = _settings(home)
    with session_factory(settings.governance_url).begin() as session:
        partners = import_partners_csv(session, data / "partners.csv")
    return {"partners": len(partners)}


def stage_ingest(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    from core.keys import KeyProvider
    from core.warehouse import warehouse
    from governance.db import session_factory
    from governance.models import Submission
    from governance.partners import list_partners
    from governance.users import create_user
    from ingest import ingest_files

    settings = _settings(home)
    sessions = session_factory(settings.governance_url)
    with sessions() as session:
        partners = list_partners(session)
    raw_key = KeyProvider(settings.master_key_path, settings.keyring_path).derive("raw-store")
    with warehouse(settings) as con:
        receipts = ingest_files(con, [data / "calpads", data / "college", data / "ccgi"],
                                settings.raw_dir, raw_key, partners)
    # what the API would have recorded had the partners uploaded these files (bench setup:
    # gives GET /v1/partner/submissions real rows)
    with sessions.begin() as session:
        uploader = create_user(session, f"bench-uploader-{os.getpid()}", ["admin"]).id
        session.add_all(Submission(
            org_code=r.partner_org or "", submitted_by=uploader, filename=r.file_name,
            size_bytes=0, sha256=None, status=str(r.status),
            receipt={"receipts": [r.model_dump(mode="json")]}) for r in receipts)
    status: dict[str, int] = {}
    for r in receipts:
        status[str(r.status)] = status.get(str(r.status), 0) + 1
    return {"files": len(receipts), **status}


def stage_link(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    import linkage
    from core.warehouse import warehouse

    settings = _settings(home)
    with warehouse(settings) as con:
        summary = linkage.run_annual_link(con, settings=settings, runs_dir=settings.runs_dir)
        evaluation = linkage.evaluate(con, data / "truth.parquet")
    dropped = [b["rule"] for b in summary.blocking_rules if not b["kept"]]
    return {"records": getattr(summary, "records", ""), "F1": round(evaluation.f1, 4),
            "precision": round(evaluation.precision, 4), "recall": round(evaluation.recall, 4),
            # where recall is lost at the state's size: the cross-agency pairs, and the
            # blocking rules over the pair cap that no narrowing brought under it
            "recall_by_source_pair": {k: v if v is None else round(v, 4)
                                      for k, v in evaluation.recall_by_source_pair.items()},
            "college_only_tied_to_k12": evaluation.college_only_tied_to_k12,
            "pairs_scored": summary.pairs_scored, "rules_dropped": dropped}


def stage_outcomes(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    import analytics
    from core.warehouse import warehouse

    with warehouse(_settings(home)) as con:
        summary = analytics.build_outcomes(con)
    return {"rows": summary.rows, "persons": summary.persons}


def stage_publish(home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    import analytics
    from core.warehouse import warehouse

    settings = _settings(home)
    with warehouse(settings) as con:
        summary = analytics.publish(con, settings.serving_path,
                                    min_cell=settings.suppression_min_cell)
    return {"cells": summary.cells, "suppressed": summary.suppressed_cells}


def stage_submissions_report(home: Path, data: Path,
                             args: argparse.Namespace) -> dict[str, object]:
    from core.warehouse import warehouse
    from governance.db import session_factory
    from governance.partners import list_partners
    from ingest.submissions import submission_report

    settings = _settings(home)
    with session_factory(settings.governance_url)() as session:
        partners = list_partners(session)
    with warehouse(settings) as con:
        # as of today: the files were received when this world was ingested (a fixed past
        # date counted none of them and timed an empty report)
        rows = submission_report(con, partners, as_of=date.today())
    return {"rows": len(rows)}


def stage_dagster_defs_load(home: Path, data: Path,
                            args: argparse.Namespace) -> dict[str, object]:
    from dagster_project import defs

    jobs = list(defs.resolve_all_job_defs()) if hasattr(defs, "resolve_all_job_defs") else []
    return {"jobs": len(jobs)}


RUNNERS: dict[str, Callable[[Path, Path, argparse.Namespace], dict[str, object]]] = {
    "generate": stage_generate, "migrate": stage_migrate,
    "partner import": stage_partner_import, "ingest": stage_ingest,
    "link": stage_link, "outcomes": stage_outcomes, "publish": stage_publish,
    "submissions report": stage_submissions_report,
    "dagster defs load": stage_dagster_defs_load,
}


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process, all its threads (DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _disk_bytes(folder: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) \
        if folder.exists() else 0


def run_child(stage: str, home: Path, data: Path, args: argparse.Namespace) -> None:
    """In the child: run one stage, print one JSON line (seconds, CPU, peak MB, details)."""
    began, cpu = time.perf_counter(), _cpu_s()
    details = RUNNERS[stage](home, data, args)
    seconds = time.perf_counter() - began
    print("RESULT " + json.dumps({"seconds": seconds, "cpu_s": round(_cpu_s() - cpu, 1),
                                  "peak_mb": _peak_mb(), **details}))


def run_stage(stage: str, home: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    env = {**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(ROOT),
           "DAGSTER_HOME": str(home / "dagster"), "C2C_LANDING_DIR": str(data)}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--child", stage, "--home", str(home), "--data",
               str(data), "--students", str(args.students), "--seed", str(args.seed),
               "--years", args.years, "--defects", args.defects, "--world", args.world]
    if args.scale:
        command += ["--scale", args.scale]
    began = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                              cwd=ROOT, timeout=args.stage_timeout)
    except subprocess.TimeoutExpired:  # subprocess.run kills the child on timeout
        return {"seconds": time.perf_counter() - began,
                "error": f"stopped after --stage-timeout {args.stage_timeout} s"}
    wall = time.perf_counter() - began
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"seconds": wall, "error": " | ".join(tail)}
    result: dict[str, object] = json.loads(lines[-1][len("RESULT "):])
    result["process_s"] = wall  # with interpreter start and imports
    result["home_GB"] = round(_disk_bytes(home) / 1e9, 2)  # what the stores hold after it
    if stage == "generate":
        result["data_GB"] = round(_disk_bytes(data) / 1e9, 2)
    result["load"] = round(os.getloadavg()[0], 1)
    return result


# -- the API list routes -----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def api_routes(home: Path, args: argparse.Namespace) -> list[tuple[str, dict[str, object]]]:
    import httpx
    from sqlalchemy import func, select

    from governance.db import session_factory
    from governance.models import Submission
    from governance.users import create_user, issue_key

    settings = _settings(home)
    sessions = session_factory(settings.governance_url)
    with sessions.begin() as session:
        busiest = session.execute(
            select(Submission.org_code, func.count()).group_by(Submission.org_code)
            .order_by(func.count().desc()).limit(1)).first()
        org = busiest[0] if busiest else ""
        admin = create_user(session, f"bench-admin-{os.getpid()}", ["admin"]).id
        admin_key = issue_key(session, admin, label="bench").token
        partner = create_user(session, f"bench-partner-{os.getpid()}", ["partner"], org or None).id
        partner_key = issue_key(session, partner, label="bench").token
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "cli.serve_cmd:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env={**os.environ, "C2C_HOME": str(home), "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[str, dict[str, object]]] = []
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        routes = (
            ("GET /v1/admin/partners", "/v1/admin/partners", admin_key),
            (f"GET /v1/partner/submissions ({org})", "/v1/partner/submissions", partner_key),
            ("GET /v1/aggregates", "/v1/aggregates", None),
        )
        with httpx.Client(base_url=base, timeout=30) as client:
            for label, path, key in routes:
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                first = client.get(path, params={"limit": 100}, headers=headers)
                if first.status_code != 200:
                    results.append((label, {"error": f"HTTP {first.status_code}"}))
                    continue
                total = int(first.json()["count"])
                pages = max(1, -(-total // 100))
                latencies: list[float] = []
                biggest = 0
                bad = 0
                for i in range(args.requests):
                    offset = (i % pages) * 100  # walk the pages, round and round
                    began = time.perf_counter()
                    response = client.get(path, params={"limit": 100, "offset": offset},
                                          headers=headers)
                    latencies.append(time.perf_counter() - began)
                    biggest = max(biggest, len(response.content))
                    bad += response.status_code != 200
                over = client.get(path, params={"limit": 100_000}, headers=headers)
                results.append((label, {
                    "rows": total, "pages": pages, "requests": len(latencies),
                    "p50_ms": round(1000 * statistics.median(latencies), 1),
                    "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
                    "largest_KB": round(biggest / 1024, 1), "errors": bad,
                    "limit_100000": over.status_code,
                }))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--scale", default=None, help="1%%, 10%% or 100%% of California's "
                        "K-12 students (replaces --students)")
    parser.add_argument("--until", default=STAGES[-1], choices=STAGES,
                        help="stop after this stage (e.g. ingest, at the state's full size)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", default="2022-23,2023-24")
    parser.add_argument("--defects", default="")
    parser.add_argument("--world", default="state", help="state (default); small to try it")
    parser.add_argument("--requests", type=int, default=200, help="per list route")
    parser.add_argument("--stage-timeout", type=float, default=1800.0,
                        help="stop a stage after this many seconds and go on")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--from", dest="start", default=STAGES[0], choices=STAGES,
                        help="resume in --keep DIR at this stage (ingest skips files it has)")
    parser.add_argument("--only", default=None, choices=(*STAGES, "api"),
                        help="in --keep DIR, run this one stage (api: the list routes) alone")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale:
        from synth.world import SCALES

        if args.scale not in SCALES:
            parser.error(f"--scale is one of {', '.join(SCALES)}")
        args.students = SCALES[args.scale]
    if args.child:
        run_child(args.child, args.home, args.data, args)
        return
    if args.only and args.keep is None:
        parser.error("--only needs --keep DIR (a world an earlier run kept)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="c2c-bench-state-"))
    home, data = work / "home", work / "data"
    if args.start == STAGES[0] and args.only is None:
        shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    print(f"{args.world} world, {args.students:,} students, years {args.years}, "
          f"defects {args.defects or 'none'}; work folder {work}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    results: list[tuple[str, dict[str, object]]] = []
    if args.only == "api":
        results += api_routes(home, args)
    elif args.only:
        results.append((args.only, run_stage(args.only, home, data, args)))
    last = STAGES.index(args.until) + 1
    for stage in STAGES[STAGES.index(args.start):last] if args.only is None else ():
        result = run_stage(stage, home, data, args)
        results.append((stage, result))
        print(f"  {stage}: {json.dumps(result)}", flush=True)
        # a failed stage leaves the later ones nothing to measure (a failed link: outcomes
        # over no persons)
        if "error" in result and stage in ("generate", "migrate", "partner import", "ingest",
                                           "link", "outcomes"):
            break
    else:
        if args.only is None and last == len(STAGES):
            results += api_routes(home, args)
    print()
    print(f"{'stage':<42} {'seconds':>8} {'CPU s':>8} {'peak MB':>8}  target / details")
    for stage, r in results:
        if "p99_ms" in r:
            ok = "ok" if float(str(r["p99_ms"])) < 100 else "MISSED"
            print(f"{stage:<42} {'':>8} {'':>8}  p99 {r['p99_ms']} ms (< 100 ms: {ok}), "
                  f"p50 {r['p50_ms']} ms, {r['rows']:,} rows in {r['pages']} pages of <= 100, "
                  f"largest response {r['largest_KB']} KB, limit=100000 -> HTTP "
                  f"{r['limit_100000']}")
            continue
        if "error" in r:
            print(f"{stage:<42} FAILED: {r['error']}")
            continue
        seconds = float(str(r["seconds"]))
        target = TARGETS.get(stage)
        verdict = ""
        if target:
            verdict = f"{target[1]}: {'ok' if seconds < target[0] else 'MISSED'}; "
        details = {k: v for k, v in r.items()
                   if k not in ("seconds", "cpu_s", "peak_mb", "process_s")}
        print(f"{stage:<42} {seconds:>8.2f} {float(str(r.get('cpu_s', 0))):>8.1f} "
              f"{float(str(r['peak_mb'])):>8.0f}  {verdict}{details}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
