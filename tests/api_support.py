"""Helpers for tests/api/: a real app on a temporary C2C_HOME with users of every role.

Everything is real: the governance store (SQLite, or PostgreSQL when C2C_TEST_DATABASE_URL
is set), the master key and keyring, the encrypted warehouse that uploads go into, generated
partner files, and a small serving snapshot written here the way ``c2c publish`` lays it out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from analytics.link_quality import QUALITY_DDL
from api.app import create_app
from core.keys import create_master_key
from core.settings import Settings
from governance.db import make_engine
from governance.partners import import_partners_csv, list_partners
from governance.users import create_user, issue_key

# Orgs of the generated partners.csv (synth.generate_small): executed agreements.
LEA = "1062166"
OTHER_LEA = "0161119"

LEAS = ("1062166", "0161119", "1964212")
YEARS = ("2022-23", "2023-24")
METRICS = ("hs_graduate", "cte_completer", "cc_enrolled_within_1yr")


def write_serving_snapshot(path: Path) -> int:
    """A small serving snapshot; returns the number of aggregate rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE published_aggregates (academic_year VARCHAR,
        reporting_lea VARCHAR, subgroup VARCHAR, subgroup_value VARCHAR, metric VARCHAR,
        numerator BIGINT, denominator BIGINT, rate DOUBLE, suppressed BOOLEAN,
        suppression_reason VARCHAR, run_id VARCHAR)""")
    rows = []
    n = 0
    for year in YEARS:
        for lea in LEAS:
            for metric in METRICS:
                for subgroup, value in (("all", "all"), ("gender", "F"), ("gender", "M"),
                                        ("homeless", "true")):
                    n += 1
                    denominator = 40 + n
                    numerator = (n * 7) % denominator
                    small = subgroup == "homeless"
                    rows.append((year, lea, subgroup, value, metric,
                                 None if small else numerator, None if small else denominator,
                                 None if small else numerator / denominator, small,
                                 "primary" if small else None, "run-1"))
    con.executemany("INSERT INTO published_aggregates VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute("CREATE TABLE snapshot_info AS SELECT 'run-1' AS run_id, "
                "TIMESTAMP '2026-11-01 12:00:00' AS published_at, 11 AS min_cell")
    con.execute("CREATE TABLE metrics (metric VARCHAR, description VARCHAR)")
    con.executemany("INSERT INTO metrics VALUES (?, ?)", [(m, f"share with {m}") for m in METRICS])
    con.execute(QUALITY_DDL)
    con.executemany(f"INSERT INTO linkage_quality VALUES ({', '.join('?' * 14)})",
                    QUALITY_ROWS)
    con.close()
    return len(rows)


# Linkage quality as ``c2c publish`` writes it (analytics/link_quality.py), plus an exact
# count written under no rule (123: must leave gated) and a small domain (7 linked pairs).
QUALITY_ROWS = [
    ("link-1", "all", "all", "all", 2705, 400, 0.999, 0.99, 1.0, 0.995, 0.96, 0.998, False,
     None),
    ("link-1", "calpads-college", "all", "all", 580, 90, 0.998, 0.95, 1.0, 0.98, 0.90, 0.99,
     False, None),
    ("link-1", "calpads-college", "partner", LEAS[0], 123, 20, 0.99, 0.9, 1.0, 0.9, 0.8, 0.97,
     False, None),
    ("link-1", "all", "ethnicity", "hispanic_or_latino", 1245, 140, 1.0, 0.95, 1.0, 0.97,
     0.9, 0.99, False, None),
    ("link-1", "all", "partner", LEAS[1], 7, 3, 1.0, 0.5, 1.0, 1.0, 0.4, 1.0, False, None),
]


ROLE_USERS = {
    "partner": (["partner"], LEA),
    "partner_other": (["partner"], OTHER_LEA),
    "researcher": (["researcher"], None),
    "researcher_2": (["researcher"], None),
    "board": (["board"], None),
    "board_2": (["board"], None),
    "board_3": (["board"], None),
    "admin": (["admin"], None),
    "researcher_board": (["researcher", "board"], None),
}


@dataclass
class ApiEnv:
    client: TestClient
    settings: Settings
    keys: dict[str, str]
    sessions: sessionmaker  # type: ignore[type-arg]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@contextmanager
def api_env(store_url: str, home: Path, partners_csv: Path, *, quorum: int = 2,
            upload_max_bytes: int = 5_000_000, mail_dir: Path | None = None) -> Iterator[ApiEnv]:
    settings = Settings(home=home, database_url=store_url, board_quorum=quorum,
                        upload_max_bytes=upload_max_bytes, duckdb_memory_limit="500MB",
                        duckdb_threads=1, mail_dir=mail_dir)
    create_master_key(settings.master_key_path)
    write_serving_snapshot(settings.serving_path)
    engine = make_engine(store_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    app = create_app(settings)
    keys: dict[str, str] = {}
    with sessions.begin() as s:
        import_partners_csv(s, partners_csv)
        assert any(p.org_code == LEA and p.agreement_active(date.today())
                   for p in list_partners(s))
        for name, (roles, org) in ROLE_USERS.items():
            user = create_user(s, name, roles, org)
            keys[name] = issue_key(s, user.id).token
    with TestClient(app) as client:
        yield ApiEnv(client=client, settings=settings, keys=keys, sessions=sessions)
    engine.dispose()
