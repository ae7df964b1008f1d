"""Batch ingest (issue 26): many files, one load per file kind, every per-file guarantee kept.

Each test runs a whole generated landing tree (one year of the small world: about a hundred
CALPADS, college and CCGI files) through ``ingest_files``, which loads them in batches, and
checks one guarantee at that size against the per-file path (``batch_files=1``) or the bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from core import tables
from core.errors import InternalError
from core.partners import AgreementStatus
from core.warehouse import connect_encrypted
from ingest import IngestOptions, ReceiptStatus, expand_paths, ingest_files, release_held
from ingest.partners_csv import load_partners_csv
from ingest.rawstore import raw_path, read_all
from ingest.staging_checks import no_files_left_received, row_counts_match_receipts
from synth import generate

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("calpads", "college", "ccgi")
ONE_AT_A_TIME = IngestOptions(batch_files=1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("tree") / "data"
    generate(data, students=80, seed=5, years=["2023-24"])
    return data


def copy_tree(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest)
    return dest


class Store:
    """An encrypted warehouse and raw store in a folder; keys fixed so a subprocess can open it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.raw_dir = home / "raw"
        self.key = bytes.fromhex("11" * 32)
        self.db_key = "22" * 32
        home.mkdir(parents=True, exist_ok=True)
        self.con = connect_encrypted(home / "warehouse.duckdb", self.db_key,
                                     temp_dir=home / "tmp")

    def ingest(self, data: Path, options: IngestOptions | None = None,
               partners_csv: Path | None = None) -> list:  # type: ignore[type-arg]
        partners = load_partners_csv(partners_csv or data / "partners.csv")
        return ingest_files(self.con, [data / d for d in FOLDERS], self.raw_dir, self.key,
                            partners, options=options)

    def staging(self) -> dict[str, list[tuple[object, ...]]]:
        names = [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging' "
            "ORDER BY 1").fetchall()]
        return {n: sorted(self.con.execute(f"SELECT * FROM staging.{n}").fetchall(), key=repr)
                for n in names}

    def statuses(self) -> dict[str, str]:
        return dict(self.con.execute(f"SELECT original_name || ' ' || file_id, status "
                                     f"FROM {tables.FILES}").fetchall())

    def close(self) -> None:
        self.con.close()


def outcome(receipts: list) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    return [(r.file_id, r.file_name, str(r.status), r.rows, r.message, r.warnings,
             [(e.file, e.line, e.field, e.value, e.rule) for e in r.errors], r.error_count)
            for r in receipts]


def test_batch_loads_what_one_at_a_time_loads(tree: Path, tmp_path: Path) -> None:
    batch, single = Store(tmp_path / "batch"), Store(tmp_path / "single")
    receipts = batch.ingest(tree)
    files = expand_paths([tree / d for d in FOLDERS])
    assert len(files) > 60 and len(receipts) == len(files)  # a receipt per file
    assert {str(r.status) for r in receipts} == {"accepted"}
    assert outcome(receipts) == outcome(single.ingest(tree, ONE_AT_A_TIME))
    assert batch.staging() == single.staging()  # same rows, file ids and line numbers
    assert row_counts_match_receipts(batch.con).passed
    for path, receipt in zip(files, receipts, strict=True):  # byte for byte, encrypted
        stored = raw_path(batch.raw_dir, receipt.file_id)
        assert read_all(batch.raw_dir, receipt.file_id, batch.key) == path.read_bytes()
        assert path.read_bytes()[:40] not in stored.read_bytes()
    batch.close()
    single.close()


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8").splitlines(keepends=True)  # line ends kept


def _write(path: Path, lines: list[str]) -> None:
    path.write_bytes("".join(lines).encode("utf-8"))


def _break(data: Path) -> dict[str, tuple[int | None, str | None, str]]:
    """Four bad files among the good ones; what each one's receipt must name."""
    senr = sorted((data / "calpads").rglob("SENR*"))
    lines = _lines(senr[0])
    fields = lines[2].split("^")
    fields[16] = "2007-13-45"  # birth date, a bad CCYYMMDD on line 3
    lines[2] = "^".join(fields)
    _write(senr[0], lines)
    short = _lines(senr[1])
    short[1] = "^".join(short[1].split("^")[:5]) + "\r\n"  # line 2 has 5 columns
    _write(senr[1], short)
    college = sorted((data / "college").rglob("college_enrollments_*.csv"))[0]
    rows = _lines(college)
    header = rows[0].strip().split(",")
    cells = rows[1].split(",")
    cells[header.index("sam_code")] = "Q"
    rows[1] = ",".join(cells)
    _write(college, rows)
    empty = sorted((data / "calpads").rglob("SINF*"))[0]
    empty.write_bytes(b"")
    return {senr[0].name + senr[0].parent.parent.name: (3, "birth_date", "date_ccyymmdd"),
            senr[1].name + senr[1].parent.parent.name: (2, None, "column_count"),
            college.name + college.parent.name: (2, "sam_code", "code_set_sam_code"),
            empty.name + empty.parent.parent.name: (None, None, "file_not_empty")}


def test_bad_files_in_a_batch_get_their_own_errors_and_the_rest_loads(
        tree: Path, tmp_path: Path) -> None:
    data = copy_tree(tree, tmp_path / "data")
    expected = _break(data)
    batch, single = Store(tmp_path / "batch"), Store(tmp_path / "single")
    receipts = batch.ingest(data)
    files = expand_paths([data / d for d in FOLDERS])
    assert len(receipts) == len(files)
    rejected = {}
    for path, receipt in zip(files, receipts, strict=True):
        key = path.name + (path.parent.parent.name if path.suffix == ".txt" else path.parent.name)
        if receipt.rejected:
            rejected[key] = receipt
        else:
            assert receipt.status == ReceiptStatus.ACCEPTED, receipt.message
    assert set(rejected) == set(expected)
    for key, (line, field, rule) in expected.items():
        first = rejected[key].errors[0]
        assert (first.file, first.line, first.field, first.rule) == (
            rejected[key].file_name, line, field, rule), rejected[key].message
    # exactly what the per-file path says, and the same rows loaded
    assert outcome(receipts) == outcome(single.ingest(data, ONE_AT_A_TIME))
    assert batch.staging() == single.staging()
    assert row_counts_match_receipts(batch.con).passed
    batch.close()
    single.close()


def test_resend_and_supersede_at_batch_size(tree: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    first = store.ingest(tree)
    rows_before = store.staging()
    assert outcome(store.ingest(tree)) == outcome(first)  # same receipts, nothing loaded again
    assert store.staging() == rows_before

    # corrected files: the same slots (partner, kind, period) with one record fewer; two
    # versions of one file in the same batch, the later one wins
    fix = tmp_path / "fix"
    senr = sorted((tree / "calpads").rglob("SENR*"))[:6]
    for path in senr:
        target = fix / path.relative_to(tree)
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = path.read_text().splitlines(keepends=True)
        target.write_text("".join(lines[:-1]))
    twice = fix / "calpads" / "z-again" / senr[0].relative_to(tree / "calpads")
    twice.parent.mkdir(parents=True)
    twice.write_text("".join(senr[0].read_text().splitlines(keepends=True)[:-2]))
    receipts = ingest_files(store.con, [fix], store.raw_dir, store.key,
                            load_partners_csv(tree / "partners.csv"))
    assert [str(r.status) for r in receipts] == ["accepted"] * 7
    replaced = {r.file_id for r in first if r.file_name in {p.name for p in senr}
                and r.kind == "SENR"}
    statuses = dict(store.con.execute(f"SELECT file_id, status FROM {tables.FILES}").fetchall())
    newest = receipts[-1]  # the z-again copy, received last
    assert statuses[newest.file_id] == "accepted"
    assert statuses[receipts[0].file_id] == "superseded"
    assert newest.superseded == [receipts[0].file_id]
    assert all(statuses[f] == "superseded" for f in replaced)
    assert row_counts_match_receipts(store.con).passed
    current = store.con.execute("SELECT count(DISTINCT file_id) FROM staging.calpads_senr "
                                "WHERE list_contains(?, file_id)", [sorted(replaced)]).fetchone()
    assert current == (0,)
    store.close()


def test_held_files_wait_and_the_rest_of_the_batch_loads(tree: Path, tmp_path: Path) -> None:
    partners = load_partners_csv(tree / "partners.csv")
    lapsed = sorted({p.org_code for p in partners if p.kind == "lea"})[0]
    registry = tmp_path / "partners.csv"
    lines = (tree / "partners.csv").read_text().splitlines(keepends=True)
    registry.write_text("".join(
        line.replace(",executed,", ",pending,") if line.startswith(lapsed + ",") else line
        for line in lines))
    assert any(p.org_code == lapsed and p.agreement_status == AgreementStatus.PENDING
               for p in load_partners_csv(registry))
    store = Store(tmp_path / "home")
    receipts = store.ingest(tree, partners_csv=registry)
    held = [r for r in receipts if r.status == ReceiptStatus.HELD]
    assert held and all(r.partner_org == lapsed for r in held)
    assert all(r.status == ReceiptStatus.ACCEPTED for r in receipts if r.partner_org != lapsed)
    assert store.con.execute("SELECT count(*) FROM staging.calpads_senr WHERE reporting_lea = ?",
                             [lapsed]).fetchone() == (0,)
    released = release_held(store.con, store.raw_dir, store.key, partners,
                            options=IngestOptions(today=date.today()))
    assert sorted(r.file_id for r in released) == sorted(r.file_id for r in held)
    assert all(r.status == ReceiptStatus.ACCEPTED for r in released)
    store.close()


_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from core.warehouse import connect_encrypted
    from ingest import IngestOptions, ingest_files
    from ingest.partners_csv import load_partners_csv
    home, data = Path(sys.argv[1]), Path(sys.argv[2])
    con = connect_encrypted(home / "warehouse.duckdb", "22" * 32, temp_dir=home / "tmp")
    options = IngestOptions(batch_files=7, on_event=lambda text: print(text, flush=True))
    ingest_files(con, [data / d for d in ("calpads", "college", "ccgi")], home / "raw",
                 bytes.fromhex("11" * 32), load_partners_csv(data / "partners.csv"),
                 options=options)
    con.close()
    print("DONE", flush=True)
""")


@pytest.mark.slow
def test_kill_9_at_any_point_then_the_next_run_resumes_and_loses_nothing(
        tree: Path, tmp_path: Path) -> None:
    clean = Store(tmp_path / "clean")
    clean.ingest(tree, IngestOptions(batch_files=7))
    expected_rows, expected_status = clean.staging(), clean.statuses()
    clean.close()

    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(root=str(ROOT)))
    home = tmp_path / "home"
    home.mkdir()
    kills = 0
    # kill after the k-th step the child reports: while storing, between loads, mid-load
    for k in (5, 60, 90, 100, 120, 140, 160, 200, 260, 10**9):
        child = subprocess.Popen([sys.executable, str(script), str(home), str(tree)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        finished = False
        for seen, line in enumerate(child.stdout, start=1):
            if line.startswith("DONE"):
                finished = True
            if seen >= k and not finished:
                os.kill(child.pid, signal.SIGKILL)
                kills += 1
                break
        child.wait()
        if finished:
            break
    assert finished and kills >= 3
    store = Store(home)
    assert store.staging() == expected_rows
    assert store.statuses() == expected_status
    assert no_files_left_received(store.con).passed
    assert row_counts_match_receipts(store.con).passed
    store.close()


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                          capture_output=True, check=False)
    if done.returncode == 0:
        subprocess.run(["umount", str(where)], check=False)
    return done.returncode == 0


def _rerun_loads_everything(store: Store, tree: Path, tmp_path: Path) -> None:
    """After a fault, the next run accepts every file and stages exactly what a clean run
    does; nothing is left half received."""
    receipts = store.ingest(tree)
    assert {str(r.status) for r in receipts} == {"accepted"}
    assert len(receipts) == len(expand_paths([tree / d for d in FOLDERS]))
    assert no_files_left_received(store.con).passed
    assert row_counts_match_receipts(store.con).passed
    clean = Store(tmp_path / "clean")
    clean.ingest(tree)
    assert store.staging() == clean.staging()
    clean.close()
    store.close()


def test_full_disk_stops_with_a_service_error_and_loses_nothing(
        tree: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("needs root and tmpfs mounts (CI runs as root)")
    size = sum(p.stat().st_size for p in expand_paths([tree / d for d in FOLDERS]))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size // 2}", "tmpfs", str(disk)],
                   check=True)
    try:
        store = Store(disk / "home")
        with pytest.raises(InternalError, match="No space left on device"):
            store.ingest(tree)
        assert store.con.execute(f"SELECT count(*) FROM {tables.RECEIPTS} "
                                 "WHERE status = 'rejected'").fetchone() == (0,)
        store.close()
        subprocess.run(["mount", "-o", f"remount,size={size * 20}", str(disk)], check=True)
        store = Store(disk / "home")
        _rerun_loads_everything(store, tree, tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_small_batches_and_files_over_the_byte_limit_load_the_same(
        tree: Path, tmp_path: Path) -> None:
    """Chunks cut by count and by bytes (a file over ``batch_bytes`` loads on its own through
    the per-file path, which streams it) give the same receipts and rows."""
    sizes = sorted(p.stat().st_size for p in expand_paths([tree / d for d in FOLDERS]))
    limit = sizes[len(sizes) // 2]  # half the files are over it
    cut, whole = Store(tmp_path / "cut"), Store(tmp_path / "whole")
    assert outcome(cut.ingest(tree, IngestOptions(batch_files=3, batch_bytes=limit))) == \
        outcome(whole.ingest(tree))
    assert cut.staging() == whole.staging()
    cut.close()
    whole.close()


def test_a_full_warehouse_disk_stops_the_batch_and_the_rerun_loads_everything(
        tree: Path, tmp_path: Path) -> None:
    """The disk fills under the warehouse (the raw store has room): the load stops with the
    service's error, no file is rejected for it, and once there is room the next run loads
    every file exactly as a clean run does."""
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("needs root and tmpfs mounts (CI runs as root)")
    # room for the empty warehouse, not for the year's rows (its write-ahead log: ~370 KB)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)], check=True)
    try:
        store = Store(disk / "home")
        store.raw_dir = tmp_path / "raw"
        with pytest.raises(InternalError, match="No space left on device|disk full"):
            store.ingest(tree)
        store.close()
        subprocess.run(["mount", "-o", "remount,size=200m", str(disk)], check=True)
        store = Store(disk / "home")
        store.raw_dir = tmp_path / "raw"
        assert store.con.execute(f"SELECT count(*) FROM {tables.RECEIPTS} "
                                 "WHERE status = 'rejected'").fetchone() == (0,)
        _rerun_loads_everything(store, tree, tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_tree_generated_in_chunks_loads_whole(tmp_path: Path) -> None:
    """The state's year is generated in chunks appended to the same files: every such file is
    a valid partner file (one header, no stray line), and every truth row's line loads."""
    data = tmp_path / "data"
    summary = generate(data, students=300, seed=8, years=["2023-24"], chunk_students=100)
    assert summary.chunks == 3
    store = Store(tmp_path / "home")
    receipts = store.ingest(data)
    assert {str(r.status) for r in receipts} == {"accepted"}
    assert row_counts_match_receipts(store.con).passed
    loaded = sum(r.rows for r in receipts if r.kind != "CRSC")  # CRSC rows name no person
    assert loaded == summary.truth_rows
    store.close()
