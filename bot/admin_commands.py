"""`jamsosbot staff add|list|disable|enable|role|password|token`: staff accounts from the operator's shell.

Passwords are prompted (never a command-line argument, which would land in the shell history and in
`ps`), hashed with argon2id, and every change is audited with actor "cli".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from storage.models import STAFF_ROLES

T = TypeVar("T")
ACTOR = "cli"


def _with_db(work: Callable[..., T]) -> T:
    from bot.admin.staff import StaffError
    from bot.settings import load_settings
    from storage.db import open_database

    db = open_database(load_settings())
    try:
        return work(db)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()


@click.group()
def staff() -> None:
    """Staff accounts for the console (/admin) and the admin API."""


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True, help="What the account may do.")
@click.password_option(prompt="Password", help="Prompted when omitted (at least 10 characters).")
def add(username: str, role: str, password: str) -> None:
    """Create a staff account."""
    from bot.admin import staff as accounts

    staff_id = _with_db(
        lambda db: accounts.add_staff(db, actor=ACTOR, username=username, password=password, role=role)
    )
    click.echo(f"staff account {username.strip().lower()} created (id {staff_id}, role {role})")


@staff.command("list")
def list_() -> None:
    """List staff accounts."""
    from bot.admin import staff as accounts

    rows = _with_db(accounts.list_staff)
    if not rows:
        click.echo("no staff accounts yet: jamsosbot staff add USER --role admin")
        return
    click.echo(f"{'username':<24} {'role':<12} {'active':<7} {'token':<6} last login")
    for r in rows:
        last = r.last_login_at.isoformat(timespec="minutes") if r.last_login_at else "-"
        token = "yes" if r.has_token else "-"
        click.echo(f"{r.username:<24} {r.role:<12} {'yes' if r.active else 'no':<7} {token:<6} {last}")


@staff.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account (its sessions and API token stop working at once)."""
    from bot.admin import staff as accounts

    _with_db(lambda db: accounts.set_active(db, actor=ACTOR, username=username, active=False))
    click.echo(f"staff account {username} disabled")


@staff.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Re-enable a disabled account."""
    from bot.admin import staff as accounts

    _with_db(lambda db: accounts.set_active(db, actor=ACTOR, username=username, active=True))
    click.echo(f"staff account {username} enabled")


@staff.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(STAFF_ROLES))
def role(username: str, role: str) -> None:
    """Change an account's role."""
    from bot.admin import staff as accounts

    _with_db(lambda db: accounts.set_role(db, actor=ACTOR, username=username, role=role))
    click.echo(f"staff account {username} is now {role}")


@staff.command("password")
@click.argument("username")
@click.password_option(prompt="New password")
def password(username: str, password: str) -> None:
    """Set a new password for an account."""
    from bot.admin import staff as accounts

    _with_db(lambda db: accounts.set_password(db, actor=ACTOR, username=username, password=password))
    click.echo(f"password of {username} changed")


@staff.command("token")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Remove the account's API token instead of issuing one.")
def token(username: str, revoke: bool) -> None:
    """Issue an API token for scripts (printed once; replaces any previous token)."""
    from bot.admin import staff as accounts

    if revoke:
        _with_db(lambda db: accounts.revoke_token(db, actor=ACTOR, username=username))
        click.echo(f"API token of {username} revoked")
        return
    value = _with_db(lambda db: accounts.issue_token(db, actor=ACTOR, username=username))
    click.echo(value)
    click.echo("Keep it secret: it is shown once. Use it as 'Authorization: Bearer <token>'.", err=True)


commands = [staff]
