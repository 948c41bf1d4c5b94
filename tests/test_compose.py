"""The deployable stack, checked without a Docker engine: docker-compose.yml against the Compose
Specification's JSON schema (vendored in tests/compose_spec/), the wiring between its services, the
Dockerfile's command (its migration step is run for real on a scratch database), and .env.example against
the settings the app actually reads."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from bot.broadcast.config import BroadcastConfig
from bot.cli import cli
from bot.settings import Settings
from storage.schema import head_revision

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).parent / "compose_spec" / "compose_spec.json"
# shared/contract.md §6: every one of these must be documented in .env.example
CONTRACT_SETTINGS = {
    "DATABASE_URL",
    "REDIS_URL",
    "PUBLIC_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_API_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WHATSAPP_FROM",
    "TWILIO_API_URL",
    "NLU_BACKEND",
    "RASA_URL",
    "MEMBERSHIP_BACKEND",
    "MEMBERSHIP_API_URL",
    "MEMBERSHIP_API_TOKEN",
    "DATA_KEY",
    "REST_CHANNEL_TOKEN",
}
STACK_VARIABLES = {"POSTGRES_PASSWORD", "WEB_WORKERS", "WEB_PORT"}  # read by docker-compose.yml / the image
BOT_SERVICES_NEED = {"postgres", "redis"}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:[:?\-][^}]*)?\}")
_ENV_LINE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _aliases() -> set[str]:
    """Every environment variable the app reads: Settings' aliases and the BROADCAST_* settings."""
    names = {str(f.alias) for f in Settings.model_fields.values() if f.alias}
    prefix = str(BroadcastConfig.model_config.get("env_prefix", ""))
    return names | {f"{prefix}{name}".upper() for name in BroadcastConfig.model_fields}


def _healthchecked(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check) and not check.get("disable", False)


def _env_example() -> dict[str, tuple[str, bool]]:
    """name → (value, set) for every `NAME=value` line of .env.example, commented (`# NAME=`) or not."""
    found: dict[str, tuple[str, bool]] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line)
        if match:
            found[match[1]] = (match[2], not line.startswith("#"))
    return found


def _bot_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("jamsosbot")}


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _image_command() -> str:
    [cmd] = [line for line in _dockerfile() if line.startswith("CMD ")]
    argv = json.loads(cmd[len("CMD ") :])
    assert argv[:2] == ["sh", "-c"], "the command runs migrations, then serves"
    return str(argv[2])


# -- docker-compose.yml --------------------------------------------------------------------------------
def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_validator_rejects_a_broken_compose_file(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["helthcheck"] = broken["services"]["web"].pop("healthcheck")  # a typo
    broken["services"]["redis"]["depends_on"] = {"postgres": {"condition": "when_ready"}}
    assert len(list(validator.iter_errors(broken))) >= 2


def test_the_stack_has_its_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"web", "inbox-worker", "worker", "postgres", "redis", "rasa"} <= set(services)
    assert services["rasa"]["profiles"] == ["rasa"]  # optional: only with --profile rasa
    for name in ("web", "postgres", "redis", "rasa"):  # what serves is health-checked
        assert _healthchecked(services[name]), f"{name} has no health check"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_dependencies_and_volumes_are_wired(compose: dict[str, Any]) -> None:
    services = compose["services"]
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert "profiles" not in services[target], f"{name} depends on optional {target}"
            if rule.get("condition") == "service_healthy":
                assert _healthchecked(services[target]), (
                    f"{name} waits for {target}, which has no health check"
                )
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert used == declared, f"declared but unused: {declared - used}"
    assert {"pgdata", "redisdata"} <= used  # the data outlives the containers


def test_bot_services_run_the_image_against_postgres_and_redis(compose: dict[str, Any]) -> None:
    bots = _bot_services(compose)
    assert "web" in bots
    assert compose["services"]["web"]["build"] == "."
    known = _aliases() | STACK_VARIABLES
    for name, service in bots.items():
        env = service["environment"]
        assert set(env) <= known, f"{name} sets unknown variables {set(env) - known}"
        assert (
            env["DATABASE_URL"].startswith("postgresql+psycopg://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["JAMSOSBOT_ENV"] == "production"
        needs = set(service.get("depends_on") or {})
        assert needs >= BOT_SERVICES_NEED or needs == {"web"}, f"{name} starts before its stores"
    web, answering = bots["web"]["environment"], bots["inbox-worker"]["environment"]
    # the web processes only acknowledge; the inbox workers answer (turns are CPU work)
    assert str(web["INBOX_WORKERS"]) == "0" and answering.get("INBOX_WORKERS", 1) != 0
    assert bots["inbox-worker"]["command"] == ["jamsosbot", "inbox-worker"]
    assert bots["worker"]["command"] == ["jamsosbot", "worker"]


def test_service_commands_are_real_cli_commands(compose: dict[str, Any]) -> None:
    """A service that runs `jamsosbot <command>` names a command that exists (no placeholders)."""
    for name, service in _bot_services(compose).items():
        command = service.get("command")
        if command is None:
            continue  # the image's command (checked below)
        argv = command if isinstance(command, list) else shlex.split(command)
        assert argv[0] == "jamsosbot", f"{name}: {argv}"
        assert argv[1] in cli.commands, f"{name} runs `jamsosbot {argv[1]}`, which does not exist"
        result = CliRunner().invoke(cli, [*argv[1:], "--help"])
        assert result.exit_code == 0, result.output


def test_every_interpolated_variable_is_documented(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    documented = set(_env_example())
    for variable in set(_INTERPOLATION.findall(text)):
        assert variable in documented, f"${{{variable}}} is not in .env.example"


# -- Dockerfile ----------------------------------------------------------------------------------------------
def test_dockerfile_builds_a_non_root_image_with_pip_install() -> None:
    lines = _dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    installs = re.compile(r"\bpip install (--?[\w-]+ )*\.(\s|$)")
    assert any(line.startswith("RUN ") and installs.search(line) for line in lines)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for needed in ("pyproject.toml", "bot/", "nlu/", "flows/", "storage/"):
        assert f"!{needed}" in ignored  # the build context holds what `pip install .` needs
    for secret in (".env", "*.key", "*.db"):
        assert secret in ignored.splitlines()


def test_the_image_migrates_then_serves_under_several_workers() -> None:
    command = _image_command()
    migrate, _, serve = command.partition(" && exec ")
    assert migrate and serve, "migrations run first and must succeed before serving"
    argv = shlex.split(serve)
    assert argv[:2] == ["jamsosbot", "serve"] and "--workers" in argv and "0.0.0.0" in argv
    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    assert "--workers" in help_text and "--host" in help_text


def test_the_image_migration_step_brings_a_database_to_head(tmp_path: Path) -> None:
    command = _image_command().partition(" && exec ")[0]
    argv = shlex.split(command)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"DATABASE_URL": url, "DATA_KEY_FILE": str(tmp_path / "k"), "PATH": "/usr/bin:/bin"}
    if argv[0] == "jamsosbot":  # the console script of this environment
        argv = [sys.executable, "-c", "from bot.cli import main; main()", *argv[1:]]
    result = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    from sqlalchemy import create_engine

    from storage.schema import current_revision

    engine = create_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


# -- .env.example ------------------------------------------------------------------------------------------
def test_env_example_documents_every_contract_setting() -> None:
    documented = _env_example()
    missing = CONTRACT_SETTINGS - set(documented)
    assert not missing, f"document {sorted(missing)} in .env.example"


def test_env_example_names_only_real_settings() -> None:
    unknown = set(_env_example()) - _aliases() - STACK_VARIABLES
    assert not unknown, f".env.example documents settings the app does not read: {sorted(unknown)}"


def test_env_example_values_are_valid_settings() -> None:
    """Uncommented lines show values for reference: the app accepts every one of them."""
    values = {
        name: value for name, (value, is_set) in _env_example().items() if is_set and name in _aliases()
    }
    assert values, "no values shown"
    Settings.model_validate({k: v for k, v in values.items() if not k.startswith("BROADCAST_")})
    prefix = str(BroadcastConfig.model_config.get("env_prefix", ""))
    BroadcastConfig.model_validate(
        {k[len(prefix) :].lower(): v for k, v in values.items() if k.startswith(prefix)}
    )


def test_secrets_are_not_shipped_in_the_example() -> None:
    for name, (value, is_set) in _env_example().items():
        if any(word in name for word in ("TOKEN", "SECRET", "KEY", "PASSWORD")) and name != "DATA_KEY_FILE":
            assert not (is_set and value), f"{name} has a value in .env.example"


def test_serve_refuses_several_workers_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without REDIS_URL the conversations live in one process's memory: a second worker would answer a
    person who is half-way through a registration as if they were new."""
    import uvicorn

    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2 and "REDIS_URL" in result.output and not started
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    assert started[-1]["workers"] == 1
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert CliRunner().invoke(cli, ["serve", "--no-access-log"]).exit_code == 0
    assert started[-1]["workers"] == (os.cpu_count() or 1) and started[-1]["access_log"] is False
