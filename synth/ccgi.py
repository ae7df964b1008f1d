"""CCGI weekly activity files: one row per account with activity in that week.

Accounts belong to high-school students (grades 9-12). A row carries the account's state as of
that week (application and aid statuses only move forward), so the latest row wins downstream.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from core.partner_formats import CCGI_ACTIVITY
from synth.blob import Blob
from synth.college import iso
from synth.defects import Defects
from synth.k12 import Stint
from synth.noise import NoiseRates, RecordedIdentity, record, transpose_digits, with_tag
from synth.population import Person
from synth.truth import TruthRecorder

CCGI = 2  # index in truth.SOURCE_SYSTEMS
ACCOUNT_RATE = 0.6  # high-school students with a CCGI account
SSID_POPULATED_RATE = 0.9
DUPLICATE_ACCOUNT_RATE = 0.02  # students who opened a second account
ACTIVITY_WEEKS_PER_YEAR = 2  # extra weeks with activity beyond status changes
SUMMER_ACTIVITY_RATE = 0.3  # accounts active once in the summer after a full school year

_COLLEGES = ("UC Davis", "UCLA", "UC Riverside", "Cal State LA", "San Jose State",
             "Cal Poly Pomona", "Fresno State", "Bayview City College",
             "East Hills Community College", "UC Berkeley", "San Diego State")
_CAREERS = ("Registered Nurse", "Software Developer", "Teacher", "Electrician",
            "Police Officer", "Graphic Designer", "Automotive Technician", "Accountant")
_MAJORS = ("Biology", "Computer Science", "Nursing", "Psychology", "Business",
           "Engineering", "Undecided", "Criminal Justice", "Art")
_STEPS = ("", "not_started", "started", "submitted")
_AID_STEPS = ("", "not_started", "started", "submitted", "completed")


def monday_on_or_after(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


@dataclass(slots=True)
class Account:
    account_id: str
    person: Person
    ident: RecordedIdentity
    noise: int
    ssid: str
    created: date
    favorites: tuple[str, str, str]
    state: dict[str, str] = field(default_factory=dict)


class CcgiWriter:
    def __init__(self, out: Path, years: list[int], seed: int | str, rates: NoiseRates,
                 truth: TruthRecorder, defects: Defects | None = None,
                 account_range: tuple[int, int] = (10**8, 10**9)) -> None:
        self.out = out
        self.defects = defects
        self.years = years
        self.rates = rates
        self.truth = truth
        self.rng = random.Random(f"{seed}:ccgi")
        self.noise_rng = random.Random(f"{seed}:noise:ccgi")
        self.used_ids: set[str] = set()
        self.files_written = 0
        self.bytes_written = 0
        # a chunked run gives each chunk its own account-number range (no clash between them)
        self.account_range = account_range
        self.lines_in: dict[str, int] = {}  # file -> data lines so far (a chunked run appends)
        self.blob: Blob | None = None  # a chunk of a larger run writes here (synth.chunks)

    def _new_account(self, person: Person, created: date) -> Account:
        rng = self.rng
        while True:
            account_id = f"{rng.randrange(*self.account_range)}"
            if account_id not in self.used_ids:
                self.used_ids.add(account_id)
                break
        ident = record(person.truth, self.rates, self.noise_rng)
        ssid = ""
        if rng.random() < SSID_POPULATED_RATE:
            ssid = person.ssid2 if person.ssid2 and rng.random() < 0.3 else person.ssid
        favorites = (";".join(rng.sample(_COLLEGES, rng.randrange(0, 4))),
                     ";".join(rng.sample(_CAREERS, rng.randrange(0, 3))),
                     ";".join(rng.sample(_MAJORS, rng.randrange(0, 3))))
        noise = ident.noise
        if ssid and self.noise_rng.random() < self.rates.ssid_typo:
            ssid, noise = transpose_digits(ssid, self.noise_rng), with_tag(noise, "ssid_typo")
        return Account(account_id, person, ident, self.truth.noises(noise), ssid, created,
                       favorites)

    def write(self, stints: list[Stint]) -> None:
        """Simulate weekly activity for every high-school stint and write the weekly files."""
        rng = self.rng
        first_week = monday_on_or_after(date(self.years[0], 8, 8))  # first school week
        last_week = monday_on_or_after(date(self.years[-1] + 1, 6, 24))
        weeks: dict[date, list[tuple[Account, Stint]]] = {}
        accounts: dict[int, list[Account]] = {}
        decided: dict[int, bool] = {}
        for stint in stints:
            if stint.grade < 9:
                continue
            person = stint.person
            if person.index not in decided:
                decided[person.index] = rng.random() < ACCOUNT_RATE
            if not decided[person.index]:
                continue
            start_week = monday_on_or_after(stint.start)
            end_week = monday_on_or_after(stint.exit) - timedelta(days=7)
            if end_week < start_week:
                continue
            span = (end_week - start_week).days // 7 + 1
            if person.index not in accounts:
                created = start_week + timedelta(days=7 * rng.randrange(min(span, 10)))
                accounts[person.index] = [self._new_account(person, created)]
                if rng.random() < DUPLICATE_ACCOUNT_RATE:
                    accounts[person.index].append(self._new_account(
                        person, created + timedelta(days=7 * rng.randrange(1, 30))))
            for account in accounts[person.index]:
                active = {start_week + timedelta(days=7 * int(rng.random() * span))
                          for _ in range(ACTIVITY_WEEKS_PER_YEAR)}
                if start_week <= account.created <= end_week:
                    active.add(account.created)
                if stint.grade == 12:
                    active.update(start_week + timedelta(days=7 * int(rng.random() * min(span, 20)))
                                  for _ in range(3))
                if stint.full_year and rng.random() < SUMMER_ACTIVITY_RATE:
                    # summer log-ins (planning, aid checks) before the next school year
                    active.add(end_week + timedelta(days=7 * (1 + int(rng.random() * 9))))
                for week in sorted(active):
                    if week >= account.created:
                        weeks.setdefault(week, []).append((account, stint))
        folder = self.out / "ccgi"
        folder.mkdir(parents=True, exist_ok=True)
        week = first_week
        while week <= last_week:
            self._write_week(week, weeks.pop(week, []))
            week += timedelta(days=7)

    def _advance(self, account: Account, stint: Stint) -> None:
        """Statuses only move forward; grade 12 students apply and file aid."""
        rng = self.rng
        state = account.state
        if stint.grade == 12:
            for key in ("cccapply_status", "csu_apply_status", "uc_apply_status"):
                current = _STEPS.index(state.get(key, "not_started") or "not_started")
                if rng.random() < 0.5:
                    state[key] = _STEPS[min(current + 1, 3)]
            for key in ("fafsa_status", "cadaa_status"):
                current = _AID_STEPS.index(state.get(key, "not_started") or "not_started")
                if rng.random() < (0.5 if key == "fafsa_status" else 0.15):
                    state[key] = _AID_STEPS[min(current + 1, 4)]
        if stint.grade >= 11 and "ag_eligible" not in state:
            state["ag_eligible"] = "Y" if rng.random() < 0.45 else "N"
        state["assessments"] = str(int(state.get("assessments", "0")) + (rng.random() < 0.3))

    def _write_week(self, week: date, entries: list[tuple[Account, Stint]]) -> None:
        rel = f"ccgi/ccgi_activity_{week.isoformat()}.csv"
        rows: list[list[str]] = []
        owners: list[tuple[int, str, int]] = []
        seen: set[str] = set()
        for account, stint in entries:
            if account.account_id in seen:
                continue
            seen.add(account.account_id)
            self._advance(account, stint)
            ident, state = account.ident, account.state
            subgroups = []
            if stint.person.index % 37 == 0:
                subgroups.append("foster_youth")
            if stint.person.index % 5 == 0:
                subgroups.append("english_learner")
            rows.append([
                account.account_id, account.ssid, ident.first, ident.last, iso(ident.birth),
                ident.gender, stint.lea.cd_code + stint.school.code, f"{stint.grade:02d}",
                account.created.isoformat(), state.get("cccapply_status", ""),
                state.get("csu_apply_status", ""), state.get("uc_apply_status", ""),
                state.get("fafsa_status", ""), state.get("cadaa_status", ""),
                state.get("ag_eligible", ""), *account.favorites, state.get("assessments", "0"),
                ";".join(subgroups), week.isoformat(),
            ])
            owners.append((stint.person.index, account.account_id, account.noise))
        tags = None
        if self.defects is not None:
            tags = self.defects.ccgi_rows(CCGI_ACTIVITY.columns, rows)
        path = self.out / rel
        before = self.lines_in.get(rel)
        if self.blob is not None:  # a chunk of a larger run: into its one staging file
            self.blob.add_csv(rel, CCGI_ACTIVITY.columns, rows)
        else:
            with path.open("w" if before is None else "a", encoding="utf-8",
                           newline="") as fh:
                start = fh.tell()
                writer = csv.writer(fh, lineterminator="\n")
                if before is None:
                    writer.writerow(CCGI_ACTIVITY.columns)
                    self.files_written += 1
                writer.writerows(rows)
                self.bytes_written += fh.tell() - start
        self.lines_in[rel] = (before or 0) + len(rows)
        self.truth.add_file(CCGI, "CCGI", rel, owners, first_line=2 + (before or 0),
                            defects=tags)
