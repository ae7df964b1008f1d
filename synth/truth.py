"""The truth file: every person-bearing record line mapped to the person it really belongs to.

Rows are collected in compact typed arrays (millions of lines at 100k students) and turned into
Arrow columns once, at the end.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synth.population import Person

SOURCE_SYSTEMS: tuple[str, ...] = ("calpads", "college", "ccgi")
TRUTH_COLUMNS: tuple[str, ...] = (
    "source_system", "partner_org", "source_person_id", "file", "line_no", "true_person_id",
    "is_twin", "has_double_surname", "has_second_ssid", "is_name_collision", "race_ethnicity",
    "gender", "noise",
)


class _Interner:
    """Maps repeated strings (file paths, partner codes, noise tags) to small ints."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, value: str) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found

    def decode(self, codes: array) -> pa.Array:
        return pc.take(pa.array(self.values, pa.string()), _int_array(codes))


def _int_array(values: array) -> pa.Array:
    return pa.Array.from_buffers(pa.int32(), len(values), [None, pa.py_buffer(values)])


class TruthRecorder:
    """Append one entry per record line written; ``write`` produces truth.parquet."""

    def __init__(self, track_defects: bool = False) -> None:
        # the defects column is written only when defect profiles were asked for, so the
        # default truth file stays byte-identical to what it was before the profiles existed
        self.track_defects = track_defects
        self._defects = array("i")
        self.defect_tags = _Interner()
        self._system = array("i")
        self._partner = array("i")
        self._file = array("i")
        self._line = array("i")
        self._person = array("i")
        self._noise = array("i")
        self._source_id: list[str] = []
        self.partners = _Interner()
        self.files = _Interner()
        self.noises = _Interner()

    def __len__(self) -> int:
        return len(self._line)

    def add_file(
        self, system: int, partner: str, file: str, owners: list[tuple[int, str, int]],
        first_line: int, defects: list[str] | None = None,
    ) -> None:
        """Record every line of one file: ``owners[i]`` = (person index, source id, noise code)
        of physical line ``first_line + i``; ``defects[i]``: its defect tags (";"-joined)."""
        if not owners:
            return
        n = len(owners)
        if self.track_defects:
            tags = defects if defects is not None else [""] * n
            self._defects.extend(self.defect_tags(t) for t in tags[:n])
        persons, source_ids, noises = zip(*owners, strict=True)
        self._system.extend([system] * n)
        self._partner.extend([self.partners(partner)] * n)
        self._file.extend([self.files(file)] * n)
        self._line.extend(range(first_line, first_line + n))
        self._person.extend(persons)
        self._noise.extend(noises)
        self._source_id.extend(source_ids)

    def write(self, path: Path, people: list[Person]) -> int:
        """Write the Parquet file; returns its row count."""
        table = self.table(people)
        pq.write_table(table, path, compression="zstd")
        return table.num_rows

    def table(self, people: list[Person], first_index: int = 0) -> pa.Table:
        """The truth rows as a table; ``people[i]`` is the person of index ``first_index + i``
        (a chunk of a larger run)."""
        person_idx: pa.Array = _int_array(self._person)
        if first_index:
            person_idx = pc.subtract(person_idx, first_index)

        def person_col(values: list, kind: pa.DataType) -> pa.Array:
            return pc.take(pa.array(values, kind), person_idx)

        table = pa.table({
            "source_system": pc.take(pa.array(SOURCE_SYSTEMS, pa.string()),
                                     _int_array(self._system)),
            "partner_org": self.partners.decode(self._partner),
            "source_person_id": pa.array(self._source_id, pa.string()),
            "file": self.files.decode(self._file),
            "line_no": _int_array(self._line),
            "true_person_id": person_col([p.person_id for p in people], pa.string()),
            "is_twin": person_col([p.is_twin for p in people], pa.bool_()),
            "has_double_surname": person_col([bool(p.truth.surname2) for p in people],
                                             pa.bool_()),
            "has_second_ssid": person_col([p.has_second_ssid and bool(p.ssid2) for p in people],
                                          pa.bool_()),
            "is_name_collision": person_col([p.is_name_collision for p in people], pa.bool_()),
            "race_ethnicity": person_col([p.group.race_ethnicity for p in people], pa.string()),
            "gender": person_col([p.truth.gender for p in people], pa.string()),
            "noise": self.noises.decode(self._noise),
        })
        if self.track_defects:
            table = table.append_column("defects", self.defect_tags.decode(self._defects))
        return table
