"""The identity columns beyond names and birth date that every build of identities joins in:
enrolment spans, schools, guardian surnames, first college term, graduating class. One
list, so the annual link and the provisional link between runs standardise records the same
way."""

from __future__ import annotations

import duckdb

from linkage.cohorts import class_of_columns
from linkage.college_terms import college_start_columns
from linkage.enrolment import enrolment_span_columns
from linkage.guardians import guardian_columns
from linkage.schema import IdentityColumns
from linkage.schools import school_columns


def identity_extras(con: duckdb.DuckDBPyConnection) -> list[IdentityColumns]:
    return [enrolment_span_columns(con), school_columns(con), guardian_columns(con),
            college_start_columns(con), class_of_columns(con)]
