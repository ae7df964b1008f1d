"""Data-defect profiles: the gaps real partner files have and our tidy generator never made.

A profile is applied after the generator has built a file's records, at the moment the file is
written, and draws from its own seeded random streams: asking for a profile never moves any
other generated value (same people, same noise, same files otherwise), so a defect run can be
compared line for line with the clean run of the same seed. Every record line a profile touches
is tagged in the truth file's ``defects`` column (the column exists only when profiles are
asked for, so the default output stays byte-identical to before).

Rates and the reason for each are in :data:`PROFILES` and docs/formats.md.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from unidecode import unidecode

from core.calpads import CRSC_V2019, CURRENT_LAYOUT, SELA_V2019, SENR_V2019, Layout
from core.errors import InputRejected, Location
from synth.k12 import Stint, year_end, year_start
from synth.orgs import College, Lea


@dataclass(frozen=True)
class DefectProfile:
    name: str
    source: str  # "calpads" | "college" | "ccgi"
    rate: float
    unit: str  # what ``rate`` is a share of
    basis: str  # the source of the rate, or the stated assumption
    description: str


PROFILES: dict[str, DefectProfile] = {p.name: p for p in (
    DefectProfile(
        "no_year_end_exit", "calpads", 0.6, "LEAs (all their continuing enrolments)",
        "assumption: CALPADS does not require a year-end exit for a student who continues "
        "(E155 is optional); the independent test data of issue 13 exited no continuing student",
        "continuing students (E155, and summer movers the LEA did not know about yet) have no "
        "exit date and no exit reason"),
    DefectProfile(
        "late_exit", "calpads", 0.5, "moves between LEAs",
        "CDE's SSID anomaly reports include CCE (concurrent enrolment), which exists because "
        "the old LEA's exit trails the new LEA's start; the share is an assumption",
        "the old LEA records the exit 1-3 months after the next LEA's start (a summer mover "
        "gets an extra SENR row in the next year: rolled over, then exited T160)"),
    DefectProfile(
        "duplicate_senr", "calpads", 0.02, "SENR rows",
        "assumption (SIS re-exports and concurrent records; no published rate)",
        "the SENR row appears twice, byte for byte"),
    DefectProfile(
        "senr_without_sinf", "calpads", 0.03, "student-LEA-years",
        "assumption: SINF is effective-dated and not re-sent each year, so a year's extract "
        "can miss it; no published rate",
        "the student has SENR (and other) rows but no SINF row in that LEA and year"),
    DefectProfile(
        "truncated_names", "calpads", 0.15, "LEAs",
        "assumption: legacy SIS name fields of 12 (first, middle) and 15 (last) characters; "
        "the CALPADS fields themselves are 30/30/50 (reference §2)",
        "first and middle names cut to 12 characters, last names to 15"),
    DefectProfile(
        "upper_ascii_lea", "calpads", 0.05, "LEAs (at least one)",
        "reference §1: CALPADS name fields may hold only letters, digits, period, hyphen, "
        "apostrophe and space, so some SIS send plain ASCII capitals; share assumed",
        "every field of every file of the LEA in capitals with accents stripped"),
    DefectProfile(
        "other_date_format", "college", 0.25, "colleges (at least one)",
        "ingest accepts YYYY-MM-DD and CCYYMMDD in college and CCGI files (docs/ingest.md); "
        "share assumed",
        "the college writes every date as CCYYMMDD instead of YYYY-MM-DD"),
    DefectProfile(
        "old_ods_layout", "calpads", 0.05, "LEAs (at least one)",
        "reference §3: the CFS changes every year; an LEA pulling an older extract sends "
        "SENR v2019 (41 columns), SELA v2019 (17) and CRSC v2019 (29); share assumed",
        "SENR, SELA and CRSC in the 2019 ODS layouts (fields that layout lacks are lost)"),
    DefectProfile(
        "college_no_ssid", "college", 0.1, "colleges (at least one)",
        "reference (college-ccgi-linkage-practice): the SSID reaches a college only through "
        "the CCCApply lookup, and a college SIS need not store it; share assumed",
        "the college's student files never carry the SSID"),
    DefectProfile(
        "college_no_high_school", "college", 0.3, "colleges (at least one)",
        "assumption: the high school last attended comes from CCCApply's high-school fields "
        "(reference: college-ccgi-linkage-practice), and a college SIS need not keep them",
        "the college's student files never name the high school"),
    DefectProfile(
        "ccgi_county_no_ssid", "ccgi", 1.0, "county (one, weighted by students)",
        "assumption: CCGI receives SSIDs through district SIS integrations; a county whose "
        "districts do not send them leaves every account there without one",
        "CCGI accounts at schools of one county carry no SSID"),
)}

ALL = "all"
TRUNCATE_WIDTH = {"first_name": 12, "middle_name": 12, "last_name": 15,
                  "alias_first_name": 12, "alias_middle_name": 12, "alias_last_name": 15}
OLD_LAYOUTS: dict[str, Layout] = {"SENR": SENR_V2019, "SELA": SELA_V2019, "CRSC": CRSC_V2019}
LATE_EXIT_DAYS = (30, 92)  # 1-3 months after the next LEA's start


def parse_defects(names: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"late_exit,duplicate_senr"`` (or a list; ``all`` = every profile) -> profile names in
    the order of :data:`PROFILES`; an unknown name is rejected, naming it and the known ones."""
    if names is None:
        return ()
    items = names.split(",") if isinstance(names, str) else list(names)
    wanted = {n.strip() for n in items if n.strip()}
    if ALL in wanted:
        return tuple(PROFILES)
    unknown = sorted(wanted - set(PROFILES))
    if unknown:
        raise InputRejected(
            f"unknown defect profile {unknown[0]!r}; known: {', '.join(PROFILES)} (or all)",
            Location(file="arguments", field="defects", value=unknown[0], rule="profile name"))
    return tuple(p for p in PROFILES if p in wanted)


def _choose(rng: random.Random, options: Sequence[object], weights: Sequence[float],
            share: float) -> set[int]:
    """Indexes of ``max(1, round(share * n))`` options drawn without replacement by weight
    (Efraimidis-Spirakis keys: u ** (1 / w), the largest win)."""
    count = min(len(options), max(1, round(share * len(options))))
    keys = [(rng.random() ** (1.0 / max(float(w), 1e-9)), i) for i, w in enumerate(weights)]
    return {i for _, i in sorted(keys, reverse=True)[:count]}


def _d8(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


Owner = tuple[int, str, int]


@dataclass
class _Rollover:
    """An extra SENR row the old LEA sends in the next year (rolled over, exited late)."""

    template: dict[str, str]
    owner: Owner
    grade: int
    exit: date


@dataclass
class Defects:
    """The chosen partners and per-record decisions of the asked-for profiles, for one run."""

    names: tuple[str, ...]
    seed: int
    years: list[int]
    leas: Sequence[Lea]
    colleges: Sequence[College]
    lea_sets: dict[str, set[str]] = field(default_factory=dict)
    college_sets: dict[str, set[str]] = field(default_factory=dict)
    ccgi_county: str = ""
    _late: dict[tuple[int, str, int, str], date] = field(default_factory=dict)
    _rollover_keys: dict[tuple[int, str, int, str], tuple[int, date]] = field(
        default_factory=dict)
    _rollovers: dict[tuple[str, int], list[_Rollover]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lea_weights = [lea.weight for lea in self.leas]
        for name in self.names:
            profile = PROFILES[name]
            rng = self.rng(name, "partners")
            if profile.source == "calpads" and profile.unit.startswith("LEAs"):
                picked = _choose(rng, self.leas, lea_weights, profile.rate)
                self.lea_sets[name] = {self.leas[i].code for i in picked}
            elif profile.source == "college":
                picked = _choose(rng, self.colleges, [c.weight for c in self.colleges],
                                 profile.rate)
                self.college_sets[name] = {self.colleges[i].code for i in picked}
        if "ccgi_county_no_ssid" in self.names:
            county_weight: dict[str, float] = {}
            for lea in self.leas:
                county_weight[lea.cd_code[:2]] = county_weight.get(lea.cd_code[:2], 0) + lea.weight
            counties = sorted(county_weight)
            rng = self.rng("ccgi_county_no_ssid", "partners")
            self.ccgi_county = rng.choices(counties, [county_weight[c] for c in counties])[0]

    def rng(self, name: str, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:defects:{name}:{purpose}")

    def partners(self) -> dict[str, tuple[str, ...]]:
        """Profile -> the partners it was applied to (LEA or college codes; for the CCGI
        profile, the 2-digit county code); profiles that touch records in every partner
        (late_exit, duplicate_senr, senr_without_sinf) are absent."""
        found = {n: tuple(sorted(c)) for n, c in {**self.lea_sets, **self.college_sets}.items()}
        if self.ccgi_county:
            found["ccgi_county_no_ssid"] = (self.ccgi_county,)
        return found

    @property
    def calpads(self) -> bool:
        """Whether any asked-for profile changes CALPADS files."""
        return any(PROFILES[n].source == "calpads" for n in self.names)

    def on(self, name: str) -> bool:
        return name in self.names

    def lea_has(self, name: str, lea_code: str) -> bool:
        return lea_code in self.lea_sets.get(name, ())

    def college_has(self, name: str, college_code: str) -> bool:
        return college_code in self.college_sets.get(name, ())

    # -- decisions that need the whole school history --------------------------------------
    def prepare(self, stints: Sequence[Stint]) -> None:
        """Decide which moves between LEAs get a late exit (needs the next stint's start)."""
        if not self.on("late_exit"):
            return
        rng = self.rng("late_exit", "moves")
        rate = PROFILES["late_exit"].rate
        for s, nxt in zip(stints, stints[1:], strict=False):
            if (s.exit_reason != "T160" or nxt.person is not s.person
                    or nxt.lea.code == s.lea.code or rng.random() >= rate):
                continue
            late = nxt.start + timedelta(days=rng.randint(*LATE_EXIT_DAYS))
            key = (s.person.index, s.lea.code, s.year, _d8(s.start))
            if nxt.year == s.year:
                self._late[key] = min(late, date(self.years[s.year] + 1, 6, 30))
            elif nxt.year == s.year + 1:
                self._rollover_keys[key] = (nxt.year, late)

    # -- CALPADS ---------------------------------------------------------------------------
    def calpads_lea_year(
        self, lea: Lea, y: int, lines: dict[str, list[str]], owners: dict[str, list[Owner]]
    ) -> dict[str, list[str]]:
        """Apply the CALPADS profiles to one LEA-year's lines (in place); the tags per line."""
        tags: dict[str, list[str]] = {ft: [""] * len(lines[ft]) for ft in lines}
        rows = {ft: [line.split("^") for line in lines[ft]] for ft in lines}
        pos = {ft: {n: i for i, n in enumerate(CURRENT_LAYOUT[ft].column_names(ods=True))}
               for ft in lines}

        def tag(ft: str, i: int, name: str) -> None:
            tags[ft][i] = f"{tags[ft][i]};{name}" if tags[ft][i] else name

        senr, p = rows["SENR"], pos["SENR"]
        start_year = self.years[y]
        if self.on("late_exit"):
            for i, row in enumerate(senr):
                key = (owners["SENR"][i][0], lea.code, y, row[p["enrollment_start_date"]])
                if key in self._late:
                    row[p["enrollment_exit_date"]] = _d8(self._late[key])
                    tag("SENR", i, "late_exit")
                if key in self._rollover_keys:
                    next_y, late = self._rollover_keys[key]
                    self._rollovers.setdefault((lea.code, next_y), []).append(_Rollover(
                        dict(zip(p, row, strict=True)), owners["SENR"][i],
                        int(row[p["grade_level_code"]]), late))
            for roll in self._rollovers.pop((lea.code, y), []):
                row = [roll.template[n] for n in p]
                begin = year_start(lea, start_year)
                row[p["academic_year_id"]] = f"{start_year}-{start_year + 1}"
                row[p["grade_level_code"]] = f"{min(roll.grade + 1, 12):02d}"
                row[p["enrollment_start_date"]] = _d8(begin)
                row[p["enrollment_exit_date"]] = _d8(roll.exit)
                row[p["exit_reason_code"]] = "T160"
                for name in ("completion_status_code", "met_uc_csu_requirements",
                             "golden_state_seal", "seal_of_biliteracy"):
                    row[p[name]] = ""
                row[p["upload_date"]] = _d8(begin + timedelta(days=3))
                row[p["last_date_updated"]] = _d8(roll.exit + timedelta(days=2))
                senr.append(row)
                owners["SENR"].append(roll.owner)
                tags["SENR"].append("late_exit")
        if self.lea_has("no_year_end_exit", lea.code):
            last_day = _d8(year_end(lea, start_year))
            for i, row in enumerate(senr):
                reason = row[p["exit_reason_code"]]
                if reason == "E155" or (reason == "T160"
                                        and row[p["enrollment_exit_date"]] == last_day):
                    row[p["enrollment_exit_date"]] = row[p["exit_reason_code"]] = ""
                    tag("SENR", i, "no_year_end_exit")
        if self.on("senr_without_sinf") and rows["SINF"]:
            rng = self.rng("senr_without_sinf", f"{lea.code}:{y}")
            rate = PROFILES["senr_without_sinf"].rate
            drop = {i for i in range(len(rows["SINF"])) if rng.random() < rate}
            dropped = {owners["SINF"][i][0] for i in drop}
            for ft in lines:
                if ft != "SINF":
                    for i, owner in enumerate(owners[ft]):
                        if owner[0] in dropped:
                            tag(ft, i, "senr_without_sinf")
            keep = [i for i in range(len(rows["SINF"])) if i not in drop]
            rows["SINF"] = [rows["SINF"][i] for i in keep]
            owners["SINF"] = [owners["SINF"][i] for i in keep]
            tags["SINF"] = [tags["SINF"][i] for i in keep]
        if self.on("duplicate_senr") and senr:
            rng = self.rng("duplicate_senr", f"{lea.code}:{y}")
            rate = PROFILES["duplicate_senr"].rate
            out_rows, out_owners, out_tags = [], [], []
            for i, row in enumerate(senr):
                twice = rng.random() < rate
                for _ in range(2 if twice else 1):
                    out_rows.append(row)
                    out_owners.append(owners["SENR"][i])
                    before = tags["SENR"][i]
                    out_tags.append((f"{before};duplicate_senr" if before else "duplicate_senr")
                                    if twice else before)
            rows["SENR"], owners["SENR"], tags["SENR"] = out_rows, out_owners, out_tags
        if self.lea_has("truncated_names", lea.code):
            for ft, ft_rows in rows.items():
                cut = [(pos[ft][n], w) for n, w in TRUNCATE_WIDTH.items() if n in pos[ft]]
                for i, row in enumerate(ft_rows):
                    changed = False
                    for at, width in cut:
                        if len(row[at]) > width:
                            row[at] = row[at][:width].rstrip()
                            changed = True
                    if changed and i < len(owners[ft]):
                        tag(ft, i, "truncated_names")
        if self.lea_has("upper_ascii_lea", lea.code):
            for ft, ft_rows in rows.items():
                for i, row in enumerate(ft_rows):
                    row[:] = [unidecode(v).upper() for v in row]
                    if i < len(owners[ft]):
                        tag(ft, i, "upper_ascii_lea")
        old = self.lea_has("old_ods_layout", lea.code)
        for ft, ft_rows in rows.items():
            if old and ft in OLD_LAYOUTS:
                names = OLD_LAYOUTS[ft].column_names(ods=True)
                ft_rows = [[row[pos[ft][n]] if n in pos[ft] else "" for n in names]
                           for row in ft_rows]
                for i in range(len(owners[ft])):
                    tag(ft, i, "old_ods_layout")
            lines[ft] = ["^".join(row) for row in ft_rows]
        return tags

    # -- college and CCGI ------------------------------------------------------------------
    def college_rows(self, college: str, kind: str, header: Sequence[str],
                     rows: list[list[str]]) -> list[str]:
        """Apply the college profiles to one file's rows (in place); the tags per row."""
        tags = [""] * len(rows)
        col = {n: i for i, n in enumerate(header)}
        # profiles that blank one column of a college's student files
        blanked = (("college_no_ssid", "ssid"), ("college_no_high_school", "high_school_cds"))
        for profile, column in blanked:
            if kind != "college_students" or not self.college_has(profile, college):
                continue
            at = col[column]
            for i, row in enumerate(rows):
                if row[at]:
                    row[at] = ""
                    tags[i] = f"{tags[i]};{profile}" if tags[i] else profile
        if self.college_has("other_date_format", college):
            dated = [col[n] for n in ("birth_date", "award_date") if n in col]
            for i, row in enumerate(rows):
                for at in dated:
                    if row[at]:
                        row[at] = row[at].replace("-", "")
                        tags[i] = f"{tags[i]};other_date_format" if tags[i] else (
                            "other_date_format")
        return tags

    def ccgi_rows(self, header: Sequence[str], rows: list[list[str]]) -> list[str]:
        """Blank the SSID of accounts at schools of the chosen county; the tags per row."""
        tags = [""] * len(rows)
        if not self.ccgi_county:
            return tags
        ssid, cds = header.index("ssid"), header.index("school_cds")
        for i, row in enumerate(rows):
            if row[cds][:2] == self.ccgi_county and row[ssid]:
                row[ssid] = ""
                tags[i] = "ccgi_county_no_ssid"
        return tags


__all__ = ["ALL", "PROFILES", "DefectProfile", "Defects", "parse_defects"]
