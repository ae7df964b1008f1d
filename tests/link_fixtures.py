"""Small, seeded synthetic staging data for the linkage tests (no real people).

``make_population`` returns persons; ``write_staging`` writes them into staging tables with
the column names of core.calpads / core.partner_formats, each row with file_id and line_no.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from core.keys import KeyProvider, create_master_key
from core.settings import Settings
from core.warehouse import connect_encrypted

FIRST = ["JAMES", "MARIA", "JOSE", "EMILY", "DANIEL", "SOFIA", "WILLIAM", "ROBERT", "ANA",
         "LUIS", "OLIVIA", "NOAH", "CAMILA", "ETHAN", "ISABELLA", "MATEO", "AVA", "LIAM",
         "ELIZABETH", "ALEXANDER", "JOSHUA", "GRACE", "CARLOS", "VALERIA", "KEVIN", "NINA",
         "TRAN", "MINH", "PRIYA", "ARJUN", "HANNAH", "SAMUEL", "ZOE", "DIEGO", "LUCIA"]
LAST = ["GARCIA", "LOPEZ", "SMITH", "NGUYEN", "JOHNSON", "HERNANDEZ", "MARTINEZ", "KIM",
        "PATEL", "BROWN", "WILLIAMS", "RODRIGUEZ", "LEE", "DAVIS", "GONZALEZ", "WILSON",
        "ANDERSON", "TAYLOR", "THOMAS", "MOORE", "JACKSON", "MARTIN", "PEREZ", "SANCHEZ",
        "RAMIREZ", "TORRES", "FLORES", "RIVERA", "GOMEZ", "DIAZ", "CHEN", "WONG", "SINGH",
        "CRUZ", "REYES", "MORALES", "ORTIZ", "GUTIERREZ", "CHAVEZ", "RAMOS", "RUIZ", "ALVAREZ",
        "CASTILLO", "JIMENEZ", "VASQUEZ", "MORENO", "HERRERA", "MEDINA", "AGUILAR", "VARGAS"]
MIDDLE = ["", "", "ANN", "LEE", "MARIE", "JOSE", "ELENA", "JAMES"]
NICK = {"WILLIAM": "BILL", "ROBERT": "BOB", "ELIZABETH": "LIZ", "ALEXANDER": "ALEX",
        "JOSHUA": "JOSH", "SAMUEL": "SAM", "DANIEL": "DAN"}
LEAS = ["1964733", "3768338", "0161259", "1975713"]


@dataclass
class Person:
    pid: int
    first: str
    middle: str
    last: str
    dob: date
    gender: str
    ssids: list[str] = field(default_factory=list)
    lea: str = ""
    college: bool = False
    ccgi: bool = False
    twin_of: int | None = None
    hispanic: bool = False


def make_population(n: int, seed: int = 7, *, twins: int = 5, second_ssid: int = 5,
                    birth_days: int = 3 * 365) -> list[Person]:
    """``n`` people born over ``birth_days`` days (few days: a birth date shared by as many
    records as at the state's size)."""
    rng = random.Random(seed)
    people: list[Person] = []
    for pid in range(n):
        last = rng.choice(LAST)
        if rng.random() < 0.15:
            last = f"{last}-{rng.choice(LAST)}"
        people.append(Person(
            pid=pid, first=rng.choice(FIRST), middle=rng.choice(MIDDLE), last=last,
            dob=date(2004, 1, 1) + timedelta(days=rng.randrange(birth_days)),
            gender=rng.choice("MF"), ssids=[f"{1_000_000_000 + pid * 7:010d}"],
            lea=rng.choice(LEAS), college=rng.random() < 0.6, ccgi=rng.random() < 0.5,
            hispanic=rng.random() < 0.4,
        ))
    for i in range(twins):  # twin pairs: same surname, DOB, LEA; different first name
        a, b = people[2 * i], people[2 * i + 1]
        b.last, b.dob, b.lea, b.twin_of = a.last, a.dob, a.lea, a.pid
        b.first = "ETHAN" if a.first != "ETHAN" else "GRACE"
        b.college = a.college = True
    for i in range(second_ssid):  # students holding a second SSID (MID anomaly)
        p = people[n - 1 - i]
        p.ssids.append(f"{2_000_000_000 + p.pid:010d}")
    return people


def _variant_first(p: Person, rng: random.Random) -> str:
    if p.first in NICK and rng.random() < 0.5:
        return NICK[p.first].title()
    return p.first.title()


def _variant_last(p: Person, rng: random.Random) -> str:
    if "-" in p.last and rng.random() < 0.5:
        return p.last.split("-")[rng.randrange(2)]  # one of the double surname dropped
    return p.last


def write_staging(con: duckdb.DuckDBPyConnection, people: list[Person], *, seed: int = 11,
                  extra_year: bool = False) -> None:
    """Staging tables for the people (CALPADS SENR + SINF, college students, CCGI)."""
    rng = random.Random(seed)
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    senr: dict[str, list[object]] = {k: [] for k in (
        "reporting_lea", "ssid", "first_name", "middle_name", "last_name", "birth_date",
        "gender", "file_id", "line_no")}
    sinf: dict[str, list[object]] = {k: [] for k in (*senr, "hispanic_indicator", "race_1",
                                                     "race_2", "race_3", "race_4", "race_5")}
    college: dict[str, list[object]] = {k: [] for k in (
        "college_code", "student_id", "ssid", "first_name", "middle_name", "last_name",
        "birth_date", "gender", "zip_code", "file_id", "line_no")}
    ccgi: dict[str, list[object]] = {k: [] for k in (
        "ccgi_account_id", "ssid", "first_name", "last_name", "birth_date", "gender",
        "file_id", "line_no")}
    line = 0
    for p in people:
        for ssid in p.ssids:
            for year in range(2 if extra_year else 1):
                line += 1
                row = [p.lea, ssid, p.first.title(), p.middle.title(), p.last, p.dob,
                       p.gender, f"senr{year}", line]
                for k, v in zip(senr, row, strict=True):
                    senr[k].append(v)
            line += 1
            row = [p.lea, ssid, p.first.title(), p.middle.title(), p.last, p.dob, p.gender,
                   "sinf", line, "Y" if p.hispanic else "N", "700", None, None, None, None]
            for k, v in zip(sinf, row, strict=True):
                sinf[k].append(v)
        if p.college:
            dob = p.dob
            if rng.random() < 0.1 and dob.day <= 12:
                dob = date(dob.year, dob.day, dob.month)  # day/month swap
            line += 1
            row = ["061", f"C{p.pid:07d}", p.ssids[0] if rng.random() < 0.3 else None,
                   _variant_first(p, rng), "", _variant_last(p, rng), dob, p.gender,
                   "94110", "col", line]
            for k, v in zip(college, row, strict=True):
                college[k].append(v)
        if p.ccgi:
            line += 1
            row = [f"G{p.pid:08d}", p.ssids[0] if rng.random() < 0.5 else None,
                   (p.first + " " + p.middle).strip().title(), p.last.replace("-", " "),
                   p.dob, p.gender, "ccgi", line]
            for k, v in zip(ccgi, row, strict=True):
                ccgi[k].append(v)
    for name, data in (("calpads_senr", senr), ("calpads_sinf", sinf),
                       ("college_students", college), ("ccgi_activity", ccgi)):
        con.register("_tmp_arrow", pa.table(data))
        con.execute(f"CREATE OR REPLACE TABLE staging.{name} AS FROM _tmp_arrow")
        con.unregister("_tmp_arrow")


def truth_table(people: list[Person]) -> pa.Table:
    """A truth file in the generator's layout (one row per crosswalk unit is enough)."""
    cols: dict[str, list[object]] = {k: [] for k in (
        "source_system", "partner_org", "source_person_id", "file", "line_no",
        "true_person_id", "is_twin", "has_double_surname", "has_second_ssid",
        "race_ethnicity", "gender")}

    def add(system: str, org: str, spid: str, p: Person) -> None:
        for k, v in zip(cols, [system, org, spid, "f", 1, f"T{p.pid}",
                               p.twin_of is not None or any(
                                   q.twin_of == p.pid for q in people),
                               "-" in p.last, len(p.ssids) > 1,
                               "Hispanic" if p.hispanic else "White", p.gender], strict=True):
            cols[k].append(v)

    for p in people:
        for ssid in p.ssids:
            add("calpads", p.lea, ssid, p)
        if p.college:
            add("college", "061", f"C{p.pid:07d}", p)
        if p.ccgi:
            add("ccgi", "CCGI", f"G{p.pid:08d}", p)
    return pa.table(cols)


def encrypted_home_with_staging(
    home: Path, monkeypatch: pytest.MonkeyPatch, people: list[Person]
) -> tuple[Settings, str]:
    """A fresh ``C2C_HOME`` (master key, encrypted warehouse) with ``people`` in staging, for
    the CLI's link commands: the settings and the warehouse key."""
    monkeypatch.setenv("C2C_HOME", str(home))
    monkeypatch.delenv("C2C_MASTER_KEY_FILE", raising=False)
    settings = Settings()
    create_master_key(settings.master_key_path)
    key = KeyProvider(settings.master_key_path, settings.keyring_path).warehouse_key_hex()
    con = connect_encrypted(settings.warehouse_path, key, temp_dir=settings.tmp_dir)
    write_staging(con, people)
    con.close()
    return settings, key


def crosswalk_partition(con: duckdb.DuckDBPyConnection
                        ) -> set[frozenset[tuple[str, str, str]]]:
    """The crosswalk as a partition of source records (each person's set of records): two
    links agree when their partitions are equal, whatever ids they gave."""
    groups: dict[str, set[tuple[str, str, str]]] = {}
    for a, b, c, pid in con.execute("SELECT source_system, partner_org, source_person_id, "
                                    "person_id FROM mdm.crosswalk").fetchall():
        groups.setdefault(pid, set()).add((a, b, c))
    return {frozenset(g) for g in groups.values()}
