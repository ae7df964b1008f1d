"""Store fixtures shared by tests/governance/ and tests/api/.

``store_url`` is parametrised over SQLite (always) and PostgreSQL (when
``C2C_TEST_DATABASE_URL`` is set): each PostgreSQL test gets a fresh schema, put on the
search path through the URL, and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance import users as gu
from governance.db import upgrade

PG_ENV = "C2C_TEST_DATABASE_URL"

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
        ],
    ),
]


def _pg_url_with_schema(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def make_store(backend: str, directory: Path) -> Iterator[str]:
    """A migrated, empty governance store on ``backend``; yields its URL, drops it after."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'governance.db'}"
        upgrade(url)
        yield url
        return
    base = os.environ[PG_ENV]
    schema = f"gov_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(base)
    with admin.begin() as con:
        con.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _pg_url_with_schema(base, schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as con:
            con.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


PARTNERS_CSV = "".join(
    'org_code,name,kind,charter,agreement_status,agreement_start,agreement_end,liaison_contact,data_security_contact,swp_rounds,stewards\n'
    '1964733,LA Unified,lea,false,executed,2024-07-01,2030-06-30,li@lausd.ex,sec@lausd.ex,1;3,'
    'steward@lausd.example.org\n'
    '3768338,San Diego Unified,lea,false,pending,,,li@sdusd.ex,,2,\n'
    '3467439,Sacramento City Unified,lea,true,expired,2019-07-01,2022-06-30,,,,\n'
    '841,Pasadena CC,college,false,executed,2024-01-01,,ir@pcc.ex,sec@pcc.ex,1,'
    'steward@pcc.example.edu\n'
    'CCGI,California College Guidance Initiative,ccgi,false,executed,2023-01-01,2031-12-31,,,,'
    'steward@ccgi.example.org;deputy@ccgi.example.org\n'
)


def write_partners_csv(path: Path) -> Path:
    path.write_text(PARTNERS_CSV, encoding="utf-8")
    return path


def clear_provider_review(session: Session, request_id: str) -> None:
    """Every partner a submitted request was routed to approves through a steward of its own
    (for tests about what happens after provider review)."""
    from governance import provider_review
    from governance.models import DataRequest, User

    request = session.get(DataRequest, request_id)
    assert request is not None
    for review in list(request.provider_reviews):
        if review.status != "pending":
            continue
        name = f"steward-{review.org_code}"
        steward = session.query(User).filter_by(name=name).one_or_none()
        if steward is None:
            steward = gu.create_user(session, name, ["steward"], review.org_code)
        provider_review.steward_decide(session, request_id, steward_id=steward.id,
                                       org_code=review.org_code, decision="approve",
                                       reason="fits our agreement")
    session.flush()


def release_output(session: Session, request_id: str) -> None:
    """Two output checkers approve the built output of a fulfilled request."""
    from governance import output_release
    from governance.models import User

    for name in ("checker-a", "checker-b"):
        checker = session.query(User).filter_by(name=name).one_or_none()
        if checker is None:
            checker = gu.create_user(session, name, ["checker"])
        output_release.checker_decide(session, request_id, checker_id=checker.id,
                                    decision="approve", reason="safe to release")
    session.flush()
