"""Staff accounts: the rules (names, roles, passwords, the last admin), the audit trail, the
`jamsosbot staff` commands, and the staff pages and API as an admin uses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.admin import staff as accounts
from bot.cli import cli
from storage.db import Database, open_database
from storage.models import AuditEntry
from tests.admin.conftest import PASSWORD, Console, SignedIn, admin_settings


@pytest.fixture
def db(tmp_path: Path, nlu_cache: Path) -> Iterator[Database]:
    database = open_database(admin_settings(tmp_path, nlu_cache))
    yield database
    database.dispose()


def _audit(db: Database) -> list[tuple[str, str, str | None]]:
    with db.session() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_accounts_follow_the_rules(db: Database) -> None:
    accounts.add_staff(db, actor="cli", username=" Siti.Rahma ", password=PASSWORD, role="admin")
    assert [r.username for r in accounts.list_staff(db)] == ["siti.rahma"]
    with pytest.raises(accounts.StaffError) as taken:
        accounts.add_staff(db, actor="cli", username="SITI.RAHMA", password=PASSWORD, role="viewer")
    assert taken.value.status == 409
    for bad in (
        {"username": "a b", "role": "viewer"},
        {"username": "x", "role": "viewer"},
        {"username": "ok", "role": "boss"},
    ):
        with pytest.raises(accounts.StaffError):
            accounts.add_staff(db, actor="cli", password=PASSWORD, **bad)
    with pytest.raises(accounts.StaffError, match="at least 10"):
        accounts.add_staff(db, actor="cli", username="budi", password="pendek", role="viewer")
    assert accounts.authenticate(db, "Siti.Rahma", PASSWORD) is not None
    assert accounts.authenticate(db, "siti.rahma", PASSWORD + "x") is None


def test_the_last_admin_stays(db: Database) -> None:
    accounts.add_staff(db, actor="cli", username="siti", password=PASSWORD, role="admin")
    with pytest.raises(accounts.StaffError, match="last active admin"):
        accounts.set_active(db, actor="cli", username="siti", active=False)
    with pytest.raises(accounts.StaffError, match="last active admin"):
        accounts.set_role(db, actor="cli", username="siti", role="viewer")
    accounts.add_staff(db, actor="cli", username="rina", password=PASSWORD, role="admin")
    accounts.set_role(db, actor="siti", username="rina", role="broadcaster")
    accounts.add_staff(db, actor="cli", username="dewi", password=PASSWORD, role="admin")
    accounts.set_active(db, actor="dewi", username="siti", active=False)
    assert accounts.count_admins(db) == 1
    assert ("siti", "staff.role", "rina") in _audit(db)
    assert ("dewi", "staff.disable", "siti") in _audit(db)


def test_disabling_revokes_the_token(db: Database) -> None:
    accounts.add_staff(db, actor="cli", username="budi", password=PASSWORD, role="broadcaster")
    token = accounts.issue_token(db, actor="cli", username="budi")
    assert accounts.staff_by_token(db, token) is not None
    accounts.set_active(db, actor="cli", username="budi", active=False)
    accounts.set_active(db, actor="cli", username="budi", active=True)
    assert accounts.staff_by_token(db, token) is None  # re-enabling does not bring the old token back
    with pytest.raises(accounts.StaffError):
        accounts.set_active(db, actor="cli", username="nobody", active=False)


def test_the_staff_commands(tmp_path: Path, nlu_cache: Path) -> None:
    settings = admin_settings(tmp_path, nlu_cache)
    env = {
        "DATABASE_URL": settings.database_url,
        "DATA_KEY_FILE": str(settings.data_key_file),
        "REDIS_URL": "",
    }
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> str:
        result = runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("staff", "add", "siti", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    run("staff", "add", "budi", "--role", "broadcaster", input=f"{PASSWORD}\n{PASSWORD}\n")
    listing = run("staff", "list")
    assert "siti" in listing and "admin" in listing and "budi" in listing and "broadcaster" in listing
    token = run("staff", "token", "budi").strip().splitlines()[0]
    assert len(token) >= 40
    run("staff", "disable", "budi")
    assert "no" in [line.split()[2] for line in run("staff", "list").splitlines() if line.startswith("budi")]
    failed = runner.invoke(cli, ["staff", "disable", "siti"], env=env)
    assert failed.exit_code != 0 and "last active admin" in failed.output
    mismatch = runner.invoke(
        cli,
        ["staff", "add", "ani", "--role", "viewer"],
        input="satu-dua-tiga\nempat-lima-enam\n" * 3,
        env=env,
    )
    assert mismatch.exit_code != 0  # the two typings must match

    db = open_database(settings)
    try:
        assert accounts.authenticate(db, "siti", PASSWORD) is not None
        assert accounts.staff_by_token(db, token) is None  # disabled
        audit = _audit(db)
    finally:
        db.dispose()
    assert ("cli", "staff.add", "siti") in audit and ("cli", "staff.token", "budi") in audit
    assert ("cli", "staff.disable", "budi") in audit


def test_an_admin_manages_staff_in_the_console(console: Console, signed_in: dict[str, SignedIn]) -> None:
    admin = signed_in["admin"]
    added = admin.post("/admin/staff", {"username": "eka", "role": "viewer", "password": PASSWORD})
    assert added.status_code == 303 and added.headers["location"] == "/admin/staff?pesan=staf_ditambah"
    page = admin.client.get("/admin/staff?pesan=staf_ditambah")
    assert "Akun staf dibuat." in page.text and "eka" in page.text
    short = admin.post("/admin/staff", {"username": "fajar", "role": "viewer", "password": "pendek"})
    assert short.status_code == 400 and "Kata sandi minimal 10 karakter." in short.text
    assert admin.post("/admin/staff/eka/role", {"role": "broadcaster"}).status_code == 303
    issued = admin.post("/admin/staff/eka/token")
    assert issued.status_code == 200 and "Token API untuk eka" in issued.text
    eka = console.login("eka")
    assert eka.api("GET", "/me").json()["role"] == "broadcaster"
    assert admin.post("/admin/staff/eka/active", {"active": "false"}).status_code == 303
    assert eka.client.get("/admin").status_code == 303
    me = admin.client.get("/admin/audit")
    for action in ("staff.add", "staff.role", "staff.token", "staff.disable"):
        assert action in me.text


def test_an_admin_manages_staff_through_the_api(console: Console, signed_in: dict[str, SignedIn]) -> None:
    token = accounts.issue_token(console.db, actor="test", username="admin")
    client = console.anonymous()
    client.headers["Authorization"] = f"Bearer {token}"
    made = client.post(
        "/admin/api/v1/staff", json={"username": "gita", "role": "viewer", "password": PASSWORD}
    )
    assert made.status_code == 201 and made.json()["role"] == "viewer"
    assert (
        client.post(
            "/admin/api/v1/staff", json={"username": "gita", "role": "viewer", "password": PASSWORD}
        ).status_code
        == 409
    )
    weak = client.post("/admin/api/v1/staff", json={"username": "hadi", "role": "viewer", "password": "x"})
    assert weak.status_code == 422 and "x" not in str(weak.json()).replace(
        "max", ""
    )  # the password is not echoed
    changed = client.patch("/admin/api/v1/staff/gita", json={"role": "broadcaster"})
    assert changed.status_code == 200 and changed.json()["role"] == "broadcaster"
    assert client.patch("/admin/api/v1/staff/nobody", json={"role": "viewer"}).status_code == 404
    new = client.post("/admin/api/v1/staff/gita/token").json()["token"]
    gita = console.anonymous()
    assert (
        gita.get("/admin/api/v1/me", headers={"Authorization": f"Bearer {new}"}).json()["username"] == "gita"
    )
    assert client.delete("/admin/api/v1/staff/gita/token").status_code == 204
    assert gita.get("/admin/api/v1/me", headers={"Authorization": f"Bearer {new}"}).status_code == 401
    audit = client.get("/admin/api/v1/audit", params={"actor": "admin"}).json()
    assert {"staff.add", "staff.role", "staff.token", "staff.token_revoked"} <= {a["action"] for a in audit}


def test_everyone_manages_their_own_password_and_token(console: Console) -> None:
    accounts.add_staff(console.db, actor="test", username="indah", password=PASSWORD, role="viewer")
    indah = console.login("indah")
    wrong = indah.post(
        "/admin/akun/password", {"current": "bukan-ini-sandinya", "password": "sandi-baru-yang-panjang"}
    )
    assert wrong.status_code == 400 and "Kata sandi saat ini salah." in wrong.text
    done = indah.post("/admin/akun/password", {"current": PASSWORD, "password": "sandi-baru-yang-panjang"})
    assert done.status_code == 303
    assert accounts.authenticate(console.db, "indah", "sandi-baru-yang-panjang") is not None
    page = indah.post("/admin/akun/token")
    assert page.status_code == 200 and "Token API baru" in page.text
    rotated = indah.api("POST", "/me/token").json()["token"]
    assert (
        console.anonymous()
        .get("/admin/api/v1/me", headers={"Authorization": f"Bearer {rotated}"})
        .status_code
        == 200
    )
