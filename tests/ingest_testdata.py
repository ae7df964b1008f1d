"""Small, deterministic CALPADS / college / CCGI fixtures for tests/ingest/ (no real data)."""

from __future__ import annotations

import secrets
import zipfile
from datetime import date
from pathlib import Path

from core.calpads import CODE_SETS, CURRENT_LAYOUT, FieldSpec, Layout
from core.partners import AgreementStatus, Partner, PartnerKind
from core.warehouse import connect_encrypted

LEA = "0112345"
OTHER_LEA = "0154321"
YEAR = "2022-23"
YEAR_ID = "2022-2023"


def value_for(spec: FieldSpec, i: int) -> str:
    """A valid value of a field for record number ``i``."""
    if spec.name == "academic_year_id" or spec.code_set == "academic_year":
        return YEAR_ID
    if spec.name == "reporting_lea":
        return LEA
    if spec.name == "ssid":
        return f"{i:010d}"
    if spec.kind == "id" and spec.length:
        return "0" * (spec.length - 1) + "7"
    if spec.kind == "date":
        return "20070115"
    if spec.kind == "flag":
        return "Y"
    if spec.code_set and spec.code_set in CODE_SETS:
        return sorted(CODE_SETS[spec.code_set] - {""})[i % len(CODE_SETS[spec.code_set] - {""})]
    if spec.name.endswith("first_name"):
        return "José" if i % 2 else "Ana"
    return "x"


def record(layout: Layout, ods: bool, i: int = 0, **overrides: str) -> str:
    values = {spec.name: value_for(spec, i) for spec in layout.fields}
    values["record_type_code"] = f"{layout.file_type}-R" if ods else layout.file_type
    values["transaction_type_code"] = "A"
    if ods:
        values["upload_date"] = "20230601"
        values["last_date_updated"] = "20230602"
    values.update(overrides)
    return "^".join(values[name] for name in layout.column_names(ods))


def calpads_text(file_type: str = "SENR", n: int = 3, ods: bool = True,
                 layout: Layout | None = None,
                 newline: str = "\r\n", **overrides: str) -> str:
    lay = layout or CURRENT_LAYOUT[file_type]
    return "".join(record(lay, ods, i, **overrides) + newline for i in range(n))


def write_calpads(root: Path, file_type: str = "SENR", n: int = 3, *, lea: str = LEA,
                  name: str | None = None, encoding: str = "utf-8", **kw: object) -> Path:
    folder = root / "calpads" / lea / YEAR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{file_type} {YEAR}.txt")
    text = calpads_text(file_type, n, **kw)  # type: ignore[arg-type]
    if lea != LEA:
        text = text.replace(f"^{LEA}^", f"^{lea}^")
    path.write_bytes(text.encode(encoding))
    return path


def partner(org: str = LEA, status: AgreementStatus = AgreementStatus.EXECUTED,
            kind: PartnerKind = PartnerKind.LEA, rounds: list[int] | None = None) -> Partner:
    return Partner(org_code=org, name=f"District {org}", kind=kind, agreement_status=status,
                   agreement_start=date(2018, 1, 1), agreement_end=date(2099, 1, 1),
                   swp_rounds=rounds or [])


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


class Env:
    """A real encrypted warehouse, a raw store and its key, in a temp folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.raw_dir = root / "home" / "raw"
        self.key = secrets.token_bytes(32)
        self.con = connect_encrypted(root / "home" / "warehouse.duckdb", secrets.token_hex(32),
                                     temp_dir=root / "home" / "tmp")
        self.land = root / "land"
        self.land.mkdir()

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        row = self.con.execute(sql, params or []).fetchone()
        return row[0] if row else None
