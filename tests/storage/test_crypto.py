"""The vault: authenticated encryption bound to its column, blind indexes, key ring and key file."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from storage.crypto import (
    DataKeyError,
    DecryptionError,
    Vault,
    generate_key,
    load_keys,
    parse_keys,
    vault_from_settings,
    write_key_file,
)

NIK = "3201014506900003"


def key() -> bytes:
    return parse_keys(generate_key())[0]


def test_round_trip_and_fresh_nonce_each_time() -> None:
    vault = Vault([key()])
    a, b = vault.encrypt("nik", NIK.encode()), vault.encrypt("nik", NIK.encode())
    assert a != b and NIK.encode() not in a
    assert vault.decrypt("nik", a) == vault.decrypt("nik", b) == NIK.encode()
    assert vault.decrypt_text("x", vault.encrypt_text("x", None)) is None
    assert vault.decrypt_int("income", vault.encrypt_int("income", 2_500_000)) == 2_500_000


def test_a_blob_only_opens_in_its_own_column_and_untampered() -> None:
    vault = Vault([key()])
    blob = vault.encrypt("nik", NIK.encode())
    with pytest.raises(DecryptionError):
        vault.decrypt("phone", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        vault.decrypt("nik", tampered)
    with pytest.raises(DecryptionError):
        vault.decrypt("nik", b"\x01")
    with pytest.raises(DecryptionError):
        Vault([key()]).decrypt("nik", blob)  # another key


def test_blind_index_is_stable_keyed_and_per_field() -> None:
    k = key()
    vault, same, other = Vault([k]), Vault([k]), Vault([key()])
    index = vault.blind_index("nik", NIK)
    assert len(index) == 16 and index == same.blind_index("nik", NIK)
    assert index != other.blind_index("nik", NIK)
    assert index != vault.blind_index("kpj", NIK)
    assert index != vault.blind_index("nik", "3201014506900004")


def test_ring_decrypts_old_blobs_and_indexes_under_every_key() -> None:
    old, new = key(), key()
    blob = Vault([old]).encrypt("nik", NIK.encode())
    ring = Vault([new, old])
    assert not ring.is_current(blob) and ring.decrypt("nik", blob) == NIK.encode()
    fresh = ring.reencrypt("nik", blob)
    assert ring.is_current(fresh) and Vault([new]).decrypt("nik", fresh) == NIK.encode()
    assert ring.blind_indexes("nik", NIK) == [
        Vault([new]).blind_index("nik", NIK),
        Vault([old]).blind_index("nik", NIK),
    ]
    assert ring.primary_only().key_count == 1
    with pytest.raises(DataKeyError):
        Vault([old, old])


def test_session_tokens_for_the_dispatcher() -> None:
    vault = Vault([key()])
    token = vault.seal(b'{"step": "ask_nik"}')
    assert isinstance(token, str) and vault.unseal(token) == b'{"step": "ask_nik"}'
    with pytest.raises(DecryptionError):
        vault.unseal("not a token!")


def test_parse_keys_rejects_bad_material() -> None:
    assert len(parse_keys(f"{generate_key()}, {generate_key()}\n# comment")) == 2
    for bad in ["", "   ", "not-base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(DataKeyError):
            parse_keys(bad)


def test_key_file_is_generated_once_owner_only_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys" / "data.key"
    settings = Settings.model_validate({"DATA_KEY_FILE": str(path)})
    with caplog.at_level(logging.WARNING, logger="storage.crypto"):
        first = vault_from_settings(settings)
    assert "generated a new data key file" in caplog.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    caplog.clear()
    again = vault_from_settings(settings)
    assert again.primary_key_id == first.primary_key_id and not caplog.text
    with pytest.raises(DataKeyError):
        load_keys(Settings.model_validate({"DATA_KEY_FILE": str(tmp_path / "none")}), create=False)


def test_data_key_setting_wins_over_the_file(tmp_path: Path) -> None:
    material = generate_key()
    settings = Settings.model_validate({"DATA_KEY": material, "DATA_KEY_FILE": str(tmp_path / "k")})
    assert isinstance(settings.data_key, SecretStr)
    assert load_keys(settings) == parse_keys(material)
    assert not (tmp_path / "k").exists()


def test_write_key_file_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "data.key"
    a, b = key(), key()
    write_key_file(path, [a])
    write_key_file(path, [b, a])
    assert parse_keys(path.read_text()) == [b, a]
    assert [p.name for p in tmp_path.iterdir()] == ["data.key"]


def test_a_forked_child_never_reuses_the_parents_nonces() -> None:
    import os

    vault = Vault([key()])
    vault.encrypt("nik", b"x")  # the parent now holds a block of unused nonces
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next nonce and leave without running the test machinery
        os.write(write, vault.encrypt("nik", b"x")[5:17])
        os._exit(0)
    os.waitpid(pid, 0)
    child_nonce = os.read(read, 12)
    parent_nonce = vault.encrypt("nik", b"x")[5:17]
    assert len(child_nonce) == 12 and child_nonce != parent_nonce


def test_blind_indexes_are_rfc_2104_hmac_sha256_and_bulk_sealing_keeps_the_format() -> None:
    import hashlib
    import hmac

    from storage.crypto import _derive

    master = key()
    vault = Vault([master])
    reference = hmac.new(_derive(master, b"blind-index"), b"nik\0" + NIK.encode(), hashlib.sha256)
    assert vault.blind_index("nik", NIK) == reference.digest()[:16]
    assert vault.blind_index_many("nik", [NIK, "x"]) == [vault.blind_index("nik", v) for v in (NIK, "x")]
    blobs = vault.encrypt_many("identity", [b"a", b"b", b""])
    assert [vault.decrypt("identity", b) for b in blobs] == [b"a", b"b", b""]
    assert all(b[:5] == vault.encrypt("identity", b"a")[:5] for b in blobs)  # format byte and key id
    assert len({b[5:17] for b in blobs}) == 3  # a fresh nonce each
