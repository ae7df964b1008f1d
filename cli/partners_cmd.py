"""CLI commands: ``c2c partners import|list`` and ``c2c users create|list|revoke-key``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings
from governance import audit
from governance.anchor import anchor_for, session_info
from governance.db import session_factory
from governance.grants import bootstrap_admin, operator_create_user
from governance.partners import import_partners_csv, list_partners
from governance.users import OPERATOR, Role, list_keys, list_users, revoke_key

partners_app = typer.Typer(help="Partner registry and data-sharing agreements.",
                           no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API keys.", no_args_is_help=True)


def _sessions() -> sessionmaker[Session]:
    settings = get_settings()
    return session_factory(settings.governance_url, info=session_info(anchor_for(settings)))


@partners_app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="partners.csv (as written by c2c generate)"),
) -> None:
    """Create or update partners and their agreements from a CSV file (all or nothing)."""
    with _sessions().begin() as session:
        partners = import_partners_csv(session, path)
        audit.append(session, actor=OPERATOR, role="admin", action="partner.import",
                     target=str(path.name), detail={"partners": len(partners)})
    Console().print(f"imported {len(partners)} partners from {path}", highlight=False)


@partners_app.command("list")
def list_cmd() -> None:
    """The partner registry with each partner's current agreement."""
    with _sessions()() as session:
        partners = list_partners(session)
    table = Table(title=f"{len(partners)} partners")
    for column in ("org_code", "name", "kind", "agreement", "from", "to", "rounds"):
        table.add_column(column)
    for p in partners:
        table.add_row(p.org_code, p.name, p.kind.value, p.agreement_status.value,
                      str(p.agreement_start or ""), str(p.agreement_end or ""),
                      ";".join(map(str, p.swp_rounds)))
    Console().print(table)


@users_app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help="Unique user name"),
    role: list[Role] = typer.Option(..., "--role", help="Role; repeat for several roles"),
    org: str | None = typer.Option(None, "--org",
                                   help="Partner org_code (partner and steward users)"),
    email: str | None = typer.Option(None, "--email", help="Work address for notifications"),
) -> None:
    """Create a user and print its API key once (only a hash is stored).

    Privileged roles need two admins (docs/api.md, Separation of duties): here only the first
    two admins of a store (`--role admin` alone, audited user.bootstrap); board, steward and
    checker accounts, and further admins, are granted by one admin and approved by another.
    """
    with _sessions().begin() as session:
        if set(role) == {Role.ADMIN}:
            user, key = bootstrap_admin(session, name, email)
        else:
            user, key = operator_create_user(session, name, role, org, email)
    console = Console()
    console.print(f"created user {name} ({', '.join(r.value for r in role)})", highlight=False)
    console.print("API key (shown once, store it now):", highlight=False)
    print(key.token)


@users_app.command("list")
def users_list_cmd() -> None:
    """Users and their keys (ids only)."""
    with _sessions()() as session:
        users = list_users(session)
        keys = list_keys(session)
    table = Table(title=f"{len(users)} users")
    for column in ("id", "name", "roles", "org", "active", "keys (id, revoked?)"):
        table.add_column(column)
    for u in users:
        own = [f"{k.key_id}{' revoked' if k.revoked_at else ''}" for k in keys if k.user_id == u.id]
        table.add_row(str(u.id), u.name, ",".join(u.roles), u.org_code or "", str(u.active),
                      " ".join(own))
    Console().print(table)


@users_app.command("revoke-key")
def revoke_cmd(
    key_id: str = typer.Argument(..., help="Key id (the middle part of the key)"),
) -> None:
    """Revoke an API key at once."""
    with _sessions().begin() as session:
        revoke_key(session, key_id)
        audit.append(session, actor=OPERATOR, role="admin", action="key.revoke",
                     target=f"key:{key_id}")
    Console().print(f"revoked key {key_id}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(partners_app, name="partners")
    app.add_typer(users_app, name="users")
