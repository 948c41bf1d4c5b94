"""Personal data at rest: authenticated encryption, keyed blind indexes, and where the keys come from.

Contract:
- `Vault.encrypt(field, data)` seals bytes with AES-256-GCM under the *primary* key. The blob carries a
  format byte and the key's id, so `decrypt` finds the right key in the ring after a rotation, and the
  column (`field`) is bound as associated data, so a blob copied into another column does not open.
- `Vault.blind_index(field, value)` is HMAC-SHA256 under a key derived separately from the same master
  key (never the encryption key), truncated to 16 bytes: equal values give equal indexes for look-ups,
  and nothing about the value can be read without the key. `blind_indexes` gives one per key in the ring,
  so look-ups keep working while a rotation is half done.
- `Vault.seal` / `unseal` are the same encryption as text tokens, for session blobs (bot.dispatcher's
  Sealer).
- Keys: `DATA_KEY` (base64 of 32 bytes; several, comma-separated, newest first, during a rotation) or,
  on the embedded default, a key file generated on first run with mode 0600 and a warning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import struct
import threading
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

KEY_BYTES = 32
INDEX_BYTES = 16
_FORMAT = 1
_HEADER = struct.Struct(">B4s")  # format byte, key id
_NONCE_BYTES = 12


class DataKeyError(Exception):
    """A data key is missing or malformed, or no key in the ring opens a blob."""


class DecryptionError(DataKeyError):
    """The blob is damaged, belongs to another column, or was sealed under a key that is not in the ring."""


def _derive(master: bytes, purpose: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=b"jamsosbot/v1/" + purpose).derive(
        master
    )


class _Key:
    """One master key and what is derived from it."""

    __slots__ = ("aead", "inner", "key_id", "outer")

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise DataKeyError(f"a data key must be {KEY_BYTES} bytes (base64 of {KEY_BYTES} random bytes)")
        self.key_id = _derive(master, b"key-id", 4)
        self.aead = AESGCM(_derive(master, b"encryption"))
        # HMAC-SHA256 (RFC 2104) with its two keyed hash states computed once: an index copies them, about
        # half the cost of copying an hmac object (which goes through Python code)
        block = _derive(master, b"blind-index").ljust(hashlib.sha256().block_size, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def index(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:INDEX_BYTES]

    def index_many(self, prefix: bytes, values: Iterable[str]) -> list[bytes]:
        """`index(prefix + value)` for each value, with the prefix hashed once."""
        start, outer_start = self.inner.copy(), self.outer
        start.update(prefix)
        out = []
        for value in values:
            inner = start.copy()
            inner.update(value.encode())
            outer = outer_start.copy()
            outer.update(inner.digest())
            out.append(outer.digest()[:INDEX_BYTES])
        return out


class _Nonces(threading.local):
    """Random 96-bit nonces, drawn from the OS in blocks (one syscall per 512 nonces, not one each).

    Per thread, and refilled after a fork: a child process must never reuse its parent's unused nonces
    (a repeated nonce under one AES-GCM key would break the encryption)."""

    def __init__(self) -> None:
        self.block = b""
        self.offset = 0
        self.pid = os.getpid()

    def next(self) -> bytes:
        if self.offset >= len(self.block) or self.pid != os.getpid():
            self.block, self.offset, self.pid = os.urandom(_NONCE_BYTES * 512), 0, os.getpid()
        start = self.offset
        self.offset += _NONCE_BYTES
        return self.block[start : self.offset]


class Vault:
    """A key ring: the first key encrypts and indexes; every key decrypts. Thread-safe (no mutable state)."""

    def __init__(self, masters: Sequence[bytes]) -> None:
        if not masters:
            raise DataKeyError("no data key")
        self._masters = tuple(bytes(m) for m in masters)
        self._keys = [_Key(m) for m in masters]
        self._by_id = {k.key_id: k for k in self._keys}
        if len(self._by_id) != len(self._keys):
            raise DataKeyError("the same data key appears twice in the ring")
        self._primary = self._keys[0]
        self._nonces = _Nonces()

    @property
    def key_count(self) -> int:
        return len(self._keys)

    @property
    def primary_key_id(self) -> bytes:
        return self._primary.key_id

    def primary_only(self) -> Vault:
        """A vault holding only the newest key (after a finished rotation)."""
        return Vault(self._masters[:1])

    def master_keys(self) -> tuple[bytes, ...]:
        """The raw ring, to build the same vault in a worker process. Never log or store it."""
        return self._masters

    # -- encryption ------------------------------------------------------------------------------------

    def encrypt(self, field: str, data: bytes) -> bytes:
        nonce = self._nonces.next()
        header = _HEADER.pack(_FORMAT, self._primary.key_id)
        return header + nonce + self._primary.aead.encrypt(nonce, data, field.encode())

    def encrypt_many(self, field: str, items: Sequence[bytes]) -> list[bytes]:
        """`encrypt` of each item (the same format), with the nonces drawn from the OS in one call."""
        nonces = os.urandom(_NONCE_BYTES * len(items))
        header = _HEADER.pack(_FORMAT, self._primary.key_id)
        seal, aad = self._primary.aead.encrypt, field.encode()
        out = []
        for i, data in enumerate(items):
            nonce = nonces[i * _NONCE_BYTES : (i + 1) * _NONCE_BYTES]
            out.append(header + nonce + seal(nonce, data, aad))
        return out

    def decrypt(self, field: str, blob: bytes) -> bytes:
        try:
            fmt, key_id = _HEADER.unpack_from(blob)
        except struct.error as exc:
            raise DecryptionError("not an encrypted value") from exc
        key = self._by_id.get(key_id)
        if fmt != _FORMAT or key is None:
            raise DecryptionError("sealed under a key that is not in the ring")
        start = _HEADER.size
        nonce = blob[start : start + _NONCE_BYTES]
        try:
            return key.aead.decrypt(nonce, blob[start + _NONCE_BYTES :], field.encode())
        except InvalidTag as exc:
            raise DecryptionError("damaged value, or a value of another column") from exc

    def is_current(self, blob: bytes) -> bool:
        """True when the blob is sealed under the primary key (nothing to re-encrypt)."""
        return blob[1 : 1 + 4] == self._primary.key_id

    def reencrypt(self, field: str, blob: bytes) -> bytes:
        return blob if self.is_current(blob) else self.encrypt(field, self.decrypt(field, blob))

    # typed helpers; None stays None so optional columns need no special casing

    def encrypt_text(self, field: str, value: str | None) -> bytes | None:
        return None if value is None else self.encrypt(field, value.encode())

    def decrypt_text(self, field: str, blob: bytes | None) -> str | None:
        return None if blob is None else self.decrypt(field, bytes(blob)).decode()

    def encrypt_date(self, field: str, value: date | None) -> bytes | None:
        return None if value is None else self.encrypt(field, value.isoformat().encode())

    def decrypt_date(self, field: str, blob: bytes | None) -> date | None:
        return None if blob is None else date.fromisoformat(self.decrypt(field, bytes(blob)).decode())

    def encrypt_int(self, field: str, value: int | None) -> bytes | None:
        return None if value is None else self.encrypt(field, str(value).encode())

    def decrypt_int(self, field: str, blob: bytes | None) -> int | None:
        return None if blob is None else int(self.decrypt(field, bytes(blob)))

    # -- blind indexes ---------------------------------------------------------------------------------

    def blind_index(self, field: str, value: str) -> bytes:
        return self._primary.index(field.encode() + b"\0" + value.encode())

    def blind_index_many(self, field: str, values: Iterable[str]) -> list[bytes]:
        """`blind_index` of each value (bulk loads)."""
        return self._primary.index_many(field.encode() + b"\0", values)

    def blind_indexes(self, field: str, value: str) -> list[bytes]:
        """The value's index under every key in the ring (primary first), for look-ups mid-rotation."""
        message = field.encode() + b"\0" + value.encode()
        return [k.index(message) for k in self._keys]

    # -- text tokens (session blobs) -------------------------------------------------------------------

    def seal(self, plaintext: bytes) -> str:
        return base64.urlsafe_b64encode(self.encrypt("session", plaintext)).decode("ascii")

    def unseal(self, token: str) -> bytes:
        try:
            blob = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("not a sealed token") from exc
        return self.decrypt("session", blob)


# -- keys --------------------------------------------------------------------------------------------------


def generate_key() -> str:
    """A new master key, base64 encoded (what DATA_KEY and the key file hold)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_keys(text: str) -> list[bytes]:
    """Keys separated by commas or newlines, newest first; blank entries and `#` comments are skipped."""
    keys = []
    # Comments end a line first: a comma inside a comment must not start a "key".
    items = [part for line in text.splitlines() for part in line.split("#", 1)[0].split(",")]
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        try:
            key = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DataKeyError("a data key is not valid base64") from exc
        if len(key) != KEY_BYTES:
            raise DataKeyError(f"a data key must decode to {KEY_BYTES} bytes")
        keys.append(key)
    if not keys:
        raise DataKeyError("no data key found")
    return keys


def write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Write the ring atomically with owner-only permissions (the new file replaces the old in one rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    body = "".join(base64.b64encode(k).decode("ascii") + "\n" for k in keys)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"# jamsosbot data keys, newest first. Losing this file loses the personal data.\n")
        os.write(fd, body.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_key_file(path: Path, *, create: bool) -> list[bytes]:
    if not path.exists():
        if not create:
            raise DataKeyError(f"the data key file {path} does not exist")
        write_key_file(path, [base64.b64decode(generate_key())])
        log.warning(
            "generated a new data key file at %s (owner-only). Back it up: without it the personal data "
            "in the database cannot be read. In production set DATA_KEY instead.",
            path,
        )
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("the data key file %s is readable by other users (mode %o); chmod 600 it", path, mode)
    return parse_keys(path.read_text("ascii"))


def load_keys(settings: Settings, *, create: bool = True) -> list[bytes]:
    """The key ring from DATA_KEY, or else from the key file (created on first run when `create`)."""
    if settings.data_key is not None:
        return parse_keys(settings.data_key.get_secret_value())
    return load_key_file(settings.data_key_file, create=create)


def vault_from_settings(settings: Settings, *, create: bool = True) -> Vault:
    return Vault(load_keys(settings, create=create))


def fingerprint(vault: Vault) -> str:
    """A short, non-secret name of the primary key for operators (logs, rotate-key output)."""
    return hashlib.sha256(vault.primary_key_id).hexdigest()[:8]
