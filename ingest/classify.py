"""What a received file is: name + folders + first line -> source, kind, period, partner.

Sets those on the manifest row and returns the shape the loader needs, or raises
``InputRejected`` naming what disagrees (name against content, folder against sender).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.calpads import FILE_TYPES, academic_year_id, short_year
from core.errors import InputRejected, Location
from core.partner_formats import CSV_FORMATS
from ingest.identify import NameInfo, identify_name, year_is_consistent
from ingest.load_sql import CalpadsShape, CsvShape, sniff_calpads, sniff_csv
from ingest.manifest import FileRow
from ingest.plaintext import decode

ColumnMaps = Mapping[str, Mapping[str, str]]


@dataclass
class Identified:
    calpads: CalpadsShape | None = None
    csv: CsvShape | None = None


def identify_file(
    row: FileRow,
    first: bytes,
    *,
    submitted_by: str | None,
    column_maps: ColumnMaps,
    first_value: Callable[[int], str | None],
) -> Identified:
    """Name + folders + first line -> kind, period, partner (set on ``row``), or InputRejected.

    ``first_value(i)`` reads field ``i`` of the first data line (a CSV without a partner folder
    names its college there).
    """
    name = row.original_name
    info: NameInfo = identify_name(row.source_path or name)
    if not first.strip():
        raise InputRejected("the file is empty", Location(name, None, None, None, "file_not_empty"))
    line = decode(first)
    partner = _sending_partner(name, info, submitted_by)
    head = line.split("^", 1)[0].strip().upper()
    looks_calpads = head.removesuffix("-R") in FILE_TYPES
    if info.source_system == "calpads" or (info.source_system is None and looks_calpads):
        return _calpads(row, info, line, partner)
    if info.source_system in ("college", "ccgi") and info.kind:
        fmt = CSV_FORMATS[info.kind]
        shape_csv = sniff_csv(line, fmt, column_maps.get(fmt.kind, {}), name)
        row.source_system, row.kind, row.period = fmt.source_system, fmt.kind, info.period
        if partner is None and "college_code" in shape_csv.mapping:
            partner = first_value(shape_csv.mapping.index("college_code"))
        row.partner_org = partner
        return Identified(csv=shape_csv)
    raise InputRejected(
        "cannot identify the file: name it like 'SENR 2022-23.txt', '2022-23 SENR.txt', "
        "'college_students_<term>.csv' or 'ccgi_activity_<date>.csv'",
        Location(name, None, None, None, "file_identification"))


def _sending_partner(name: str, info: NameInfo, submitted_by: str | None) -> str | None:
    """The uploader when there is one (a folder naming another partner is rejected)."""
    partner = info.partner_org
    if submitted_by:
        if partner and partner != submitted_by:
            raise InputRejected(
                f"the file's folder names partner {partner} but it was sent by {submitted_by}",
                Location(name, None, None, partner, "partner_mismatch"))
        partner = submitted_by
    return partner


def _calpads(row: FileRow, info: NameInfo, line: str, partner: str | None) -> Identified:
    """Record type, year and LEA of line 1 must agree with the name; the layout is sniffed."""
    name = row.original_name
    shape = sniff_calpads(line, name)
    content_type = shape.layout.file_type
    if info.kind and info.kind != content_type:
        raise InputRejected(
            f"name/content mismatch: the file name says {info.kind}, the content is "
            f"{content_type} (record type {shape.record_type})",
            Location(name, 1, "record_type_code", shape.record_type, "name_content_type"))
    values = line.split("^")
    columns = shape.layout.column_names(shape.ods)
    content_year = values[columns.index("academic_year_id")].strip()
    content_lea = values[columns.index("reporting_lea")].strip()
    period = _calpads_period(name, info, content_year)
    row.source_system, row.kind, row.period = "calpads", content_type, period
    row.layout_version = f"{shape.layout.version}{'-ods' if shape.ods else '-upload'}"
    row.partner_org = partner or content_lea or None
    return Identified(calpads=shape)


def _calpads_period(name: str, info: NameInfo, content_year: str) -> str:
    """The short academic year (``2022-23``): from the name, checked against the content."""
    if info.period:
        if not year_is_consistent(info.period):
            raise InputRejected(f"the year {info.period} in the file name is not an "
                                "academic year", Location(name, None, None, info.period,
                                                          "name_year"))
        if content_year and content_year != academic_year_id(info.period):
            raise InputRejected(
                f"name/content mismatch: the file name says {info.period}, the content says "
                f"{content_year}",
                Location(name, 1, "academic_year_id", content_year, "name_content_year"))
        return info.period
    try:
        return short_year(content_year)
    except ValueError as exc:
        raise InputRejected("academic year of line 1 is not CCYY-CCYY", Location(
            name, 1, "academic_year_id", content_year, "academic_year")) from exc
