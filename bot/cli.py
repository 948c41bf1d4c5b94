"""The `jamsosbot` command. Each package keeps its own commands next to the code they drive; this module
only gathers them, so adding a command never touches another package's file."""

from __future__ import annotations

import importlib
import logging

import click

# Modules that define a module-level `commands: list[click.Command]`.
COMMAND_MODULES: list[str] = [
    "bot.commands",
    "bot.telegram_commands",
    "bot.inbox_commands",
    "bot.admin_commands",
    "bot.broadcast_commands",
    "storage.commands",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level (personal data is still redacted).")
@click.version_option(package_name="jamsosbot")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """jamsosbot: the BPJS Ketenagakerjaan assistant for Telegram and WhatsApp."""
    from bot.logs import configure_logging

    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    configure_logging(logging.DEBUG if verbose else logging.INFO)


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(_name).commands:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="jamsosbot")
