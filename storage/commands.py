"""Staff and operator commands of the storage package (registered in bot.cli's COMMAND_MODULES):

jamsosbot db upgrade | db check            the schema
jamsosbot import-members FILE.csv          load members (error report next to the file)
jamsosbot mark-paid NIK_OR_REGNO --months N
jamsosbot export-registrations FILE.csv
jamsosbot erase --nik ... | --phone ... | --channel C --chat-id ID
jamsosbot demo-data                        fake members for trying the bot
jamsosbot rotate-key                       re-encrypt everything under a new key

Output is for operators (English); nothing personal is printed except by demo-data, whose data is fake.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.settings import Settings, load_settings
from storage.crypto import (
    DataKeyError,
    Vault,
    fingerprint,
    generate_key,
    load_keys,
    parse_keys,
    write_key_file,
)
from storage.db import Database, make_engine, open_database
from storage.schema import SchemaOutdated, current_revision, ensure_current, head_revision, upgrade

console = Console(stderr=True)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


def _database(settings: Settings, vault: Vault | None = None) -> Database:
    try:
        return open_database(settings, vault=vault, pool_size=2)
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from exc
    except DataKeyError as exc:
        raise click.ClickException(f"data key: {exc}") from exc


@contextmanager
def _progress(label: str, total: int | None = None) -> Iterator[tuple[Progress, TaskID]]:
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress, progress.add_task(label, total=total)


# -- schema ----------------------------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """The database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Migrate the database (DATABASE_URL, or the default SQLite file) to the current schema."""
    url = load_settings().database_url
    upgrade(url, revision)
    engine = make_engine(url, pool_size=1)
    try:
        click.echo(f"database at schema {current_revision(engine)}")
    finally:
        engine.dispose()


@db_group.command("check")
def db_check() -> None:
    """Exit 0 when the database is at the schema this code needs, else 1 with what to run."""
    engine = make_engine(load_settings().database_url, pool_size=1)
    try:
        ensure_current(engine)
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"database at schema {head_revision()} (current)")


# -- members ---------------------------------------------------------------------------------------------


@click.command("import-members")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path), help="Error report path."
)
@click.option(
    "--workers", type=click.IntRange(0, 32), default=None, help="Processes that check and seal rows."
)
def import_members_command(csv_file: Path, errors_path: Path | None, workers: int | None) -> None:
    """Import members from a CSV file (format: docs/storage.md). Safe to run again on the same file."""
    from storage.ops.import_members import ImportFormatError, import_members

    db = _database(load_settings())
    try:
        with _progress(f"importing {csv_file.name}", csv_file.stat().st_size) as (progress, task):
            report = import_members(
                db,
                csv_file,
                errors_path=errors_path,
                workers=workers,
                actor=_actor(),
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(
        f"read {report.rows_read} rows: {report.rows_written} imported, {report.rows_rejected} rejected"
    )
    if report.errors_path is not None:
        click.echo(f"rejected rows are listed in {report.errors_path}")


@click.command("mark-paid")
@click.argument("reference", metavar="NIK_OR_REGNO")
@click.option("--months", type=click.IntRange(1, 24), required=True, help="Months of contributions paid.")
@click.option(
    "--paid-on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Payment date (default today)."
)
@click.option("--amount", type=click.IntRange(1), default=None, help="Amount paid, in rupiah.")
def mark_paid_command(reference: str, months: int, paid_on: datetime | None, amount: int | None) -> None:
    """Record a contribution payment: activates a pending registration, extends the protection period.
    NIK_OR_REGNO is a NIK, a KPJ number or a registration number (BPU-2026-000123)."""
    from storage.ops.payments import PaymentError, mark_paid

    db = _database(load_settings())
    try:
        paid = paid_on.date() if paid_on else None
        result = mark_paid(db, reference, months, paid_on=paid, amount=amount, actor=_actor())
    except PaymentError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    what = result.registration_number or f"membership #{result.member_id}"
    click.echo(
        f"{what}: {result.status_before} -> active, protected {result.protected_from} to "
        f"{result.protected_until}, next contribution due {result.next_due_date}"
    )


@click.command("export-registrations")
@click.argument("csv_file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--state", type=click.Choice(["submitted", "awaiting_payment", "active", "rejected"]), default=None
)
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Created on or after this day."
)
def export_registrations_command(csv_file: Path, state: str | None, since: datetime | None) -> None:
    """Export the chat's BPU registrations to CSV (holds personal data: the file is owner-only)."""
    from bot.clock import WIB
    from storage.ops.export import export_registrations

    db = _database(load_settings())
    try:
        with _progress("exporting") as (progress, task):
            count = export_registrations(
                db,
                csv_file,
                state=state,
                since=since.replace(tzinfo=WIB) if since else None,
                actor=_actor(),
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        db.dispose()
    click.echo(
        f"wrote {count} registrations to {csv_file} (personal data: keep it safe, delete it after use)"
    )


@click.command("erase")
@click.option("--nik", default=None, help="The person's NIK.")
@click.option("--phone", default=None, help="The person's phone number (E.164 or 08…).")
@click.option("--channel", default=None, help="A conversation's channel (telegram, whatsapp, rest).")
@click.option("--chat-id", default=None, help="The conversation's chat id on that channel.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(
    nik: str | None, phone: str | None, channel: str | None, chat_id: str | None, yes: bool
) -> None:
    """Erase one person's data on request (UU PDP): memberships, registration details, conversations."""
    from storage.ops.identity import digits
    from storage.ops.member_rows import normalize_phone
    from storage.repo.erase import erase_person

    if bool(channel) != bool(chat_id):
        raise click.UsageError("--channel and --chat-id go together")
    if not (nik or phone or channel):
        raise click.UsageError("say whose data: --nik, --phone, or --channel with --chat-id")
    if phone and (phone := normalize_phone(phone)) is None:
        raise click.UsageError("that phone number is not a valid Indonesian number")
    if not yes:
        click.confirm("Erase this person's data? This cannot be undone", abort=True)
    db = _database(load_settings())
    try:
        report = erase_person(
            db,
            nik=digits(nik) if nik else None,
            phone=phone,
            channel=channel,
            chat_id=chat_id,
            actor=_actor(),
        )
    finally:
        db.dispose()
    if not report.found_anything:
        click.echo("nothing found for that person")
        return
    click.echo(
        f"erased: {report.members} memberships, {report.registrations} registrations (numbers kept, details "
        f"cleared), {report.conversations} conversations"
    )


@click.command("demo-data")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=500, show_default=True)
@click.option("--seed", type=int, default=None, help="Random seed (default: today's date).")
def demo_data_command(count: int, seed: int | None) -> None:
    """Fill the database with realistic fake members and show a few to try the status check with."""
    from storage.ops.demo import load_demo_members

    db = _database(load_settings())
    try:
        report, samples = load_demo_members(db, count, seed=seed)
    finally:
        db.dispose()
    click.echo(
        f"{report.rows_written} fake members loaded. Try the status check with one of these (fake data):"
    )
    table = Table("NIK", "KPJ", "birth date", "name", "status")
    for s in samples:
        table.add_row(s.nik, s.kpj, s.birth_date.isoformat(), s.full_name, s.status)
    Console().print(table)


@click.command("rotate-key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_key_command(yes: bool) -> None:
    """Re-encrypt all personal data under a new key and recompute the blind indexes. Stop the bot first.

    With a key file (the embedded default) the new key is generated and the old one retired when done; an
    interrupted run continues where it stopped. With DATA_KEY, set DATA_KEY=NEW,OLD first, run this, then
    set DATA_KEY=NEW."""
    from storage.ops.rotation import remaining_under_old_keys, rotate

    settings = load_settings()
    try:
        keys = load_keys(settings, create=False)
    except DataKeyError as exc:
        raise click.ClickException(f"data key: {exc}") from exc
    from_file = settings.data_key is None
    if len(keys) == 1:
        if not from_file:
            raise click.ClickException(
                "DATA_KEY holds one key. Put a new key first and keep the old one after it, e.g.\n"
                f"  DATA_KEY={generate_key()},<your current key>\nthen run `jamsosbot rotate-key` again."
            )
        if not yes:
            click.confirm("Rotate the data key now (the bot must be stopped)?", abort=True)
        keys = [parse_keys(generate_key())[0], *keys]
        write_key_file(settings.data_key_file, keys)  # the old key stays until every row is re-encrypted
    elif from_file:
        click.echo("continuing an unfinished rotation")
    vault = Vault(keys)
    db = _database(settings, vault)
    try:
        with _progress("re-encrypting") as (progress, task):
            changed = rotate(
                db,
                actor=_actor(),
                on_progress=lambda table, n: progress.update(task, description=table, completed=n),
            )
        with db.session() as session:
            left = remaining_under_old_keys(session, vault)
    finally:
        db.dispose()
    if left:
        raise click.ClickException(
            f"{left} values are still under an old key (was the bot running?); run again"
        )
    click.echo("re-encrypted: " + ", ".join(f"{table} {n}" for table, n in changed.items()))
    if from_file:
        write_key_file(settings.data_key_file, keys[:1])
        click.echo(f"new key {fingerprint(vault)} in {settings.data_key_file}; the old key is retired")
    else:
        click.echo(f"done: now set DATA_KEY to the new key only ({fingerprint(vault)}) and restart the bot")


commands: list[click.Command] = [
    db_group,
    import_members_command,
    mark_paid_command,
    export_registrations_command,
    erase_command,
    demo_data_command,
    rotate_key_command,
]
