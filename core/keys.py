"""Key provider: master key file, wrapped data keys, HKDF-derived per-purpose keys.

Envelope scheme, so rotating the master key never re-encrypts data:
- the master key (32 random bytes, file mode 0600) only wraps other keys;
- the keyring (``$C2C_HOME/keyring.json``) holds a random *root data key* and any per-object
  keys (one per extract), each AES-256-GCM-wrapped under the master key, with the entry name
  as associated data (an entry cannot be swapped for another);
- per-purpose keys (warehouse, raw store, pseudonyms of request N, ...) are HKDF-SHA256 of the
  root data key with the purpose as ``info``. Rotation re-wraps the keyring entries only.

Every read-modify-write of the keyring holds an exclusive file lock, so two processes that
create keys at once (two extracts built in parallel) cannot lose each other's entries.
Rotation writes the new master key as ``<master>.next`` before the re-wrapped keyring; if it
is interrupted, the next use of the keyring finishes (or discards) it.

No key bytes are kept on the provider object, and no message or repr carries key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import IntegrityError_, KeyError_

KEY_BYTES = 32
_NONCE_BYTES = 12
_ROOT_ENTRY = "root_data_key"

# Key purposes, named once (issue 17): the HKDF ``info`` of a derived key, or the keyring entry
# of a stored one. A purpose never changes once data is encrypted under it.
WAREHOUSE_PURPOSE = "warehouse-encryption"
RAW_STORE_PURPOSE = "raw-store"


def pseudonym_purpose(request_id: str) -> str:
    """Per-request pseudonym key: two extracts' pseudonyms cannot be joined."""
    return f"pseudonym:{request_id}"


def extract_key_name(request_id: str) -> str:
    """Keyring entry of one extract's random data key (wrapped by the master key)."""
    return f"extract:{request_id}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64 decode (stray characters are an error, not silently dropped)."""
    return base64.b64decode(text.encode("ascii"), validate=True)


def _make_private_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)


def write_secret_file(path: Path, data: bytes) -> None:
    """Write bytes readable only by the owner (0600), atomically (temp file + rename)."""
    _make_private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def create_master_key(path: Path) -> None:
    """Create a new master key file (mode 0600); refuses to overwrite one, even in a race."""
    if path.exists():
        raise KeyError_(f"master key file already exists at {path}; refusing to overwrite it")
    _make_private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    write_secret_file(tmp, _b64(secrets.token_bytes(KEY_BYTES)).encode("ascii") + b"\n")
    try:
        os.link(tmp, path)  # fails if the path appeared meanwhile: never overwrites
    except FileExistsError as exc:
        raise KeyError_(
            f"master key file already exists at {path}; refusing to overwrite it"
        ) from exc
    finally:
        tmp.unlink()


def read_master_key(path: Path) -> bytes:
    if not path.exists():
        raise KeyError_(f"no master key file at {path}; create one with `c2c keys init`")
    try:
        key = _unb64(path.read_text(encoding="ascii").strip())
    except (ValueError, binascii.Error):
        # ``from None``: the decoder's own message could quote part of the file.
        raise KeyError_(f"master key file {path} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyError_(f"master key file {path} does not hold a {KEY_BYTES}-byte key")
    return key


def wrap_key(kek: bytes, key: bytes, label: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _b64(nonce + AESGCM(kek).encrypt(nonce, key, label.encode("utf-8")))


def unwrap_key(kek: bytes, wrapped: str, label: str) -> bytes:
    try:
        blob = _unb64(wrapped)
        return AESGCM(kek).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], label.encode("utf-8"))
    except (InvalidTag, ValueError, binascii.Error):
        raise IntegrityError_(
            f"key '{label}' cannot be unwrapped: wrong master key or tampered keyring"
        ) from None


def hkdf(key_material: bytes, purpose: str, length: int = KEY_BYTES) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode("utf-8")
    ).derive(key_material)


@dataclass(frozen=True)
class KeyStatus:
    """What ``c2c keys status`` shows: paths, permissions, entry names. Never key bytes."""

    master_key_path: Path
    master_key_present: bool
    master_key_mode: int | None  # permission bits, e.g. 0o600
    keyring_path: Path
    entries: tuple[str, ...]
    unreadable_entries: tuple[str, ...]  # entries the current master key cannot unwrap

    @property
    def master_key_private(self) -> bool:
        return self.master_key_mode is not None and self.master_key_mode & 0o077 == 0


class KeyProvider:
    """Gives out keys by purpose. Holds no key bytes between calls; never logs them."""

    def __init__(self, master_key_path: Path, keyring_path: Path) -> None:
        self.master_key_path = master_key_path
        self.keyring_path = keyring_path

    def __repr__(self) -> str:
        return f"KeyProvider(master_key_path={self.master_key_path!s})"

    # -- keyring file ----------------------------------------------------------------------

    @property
    def _pending_master_path(self) -> Path:
        return self.master_key_path.with_name(self.master_key_path.name + ".next")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock over the keyring and master key (one writer at a time, any process)."""
        _make_private_dir(self.keyring_path.parent)
        lock_path = self.keyring_path.with_name(self.keyring_path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._finish_interrupted_rotation()
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _load_keyring(self) -> dict[str, str]:
        if not self.keyring_path.exists():
            return {}
        try:
            data = json.loads(self.keyring_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise IntegrityError_(f"keyring {self.keyring_path} is not valid JSON") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise IntegrityError_(f"keyring {self.keyring_path} is not a name -> key mapping")
        return data

    def _save_keyring(self, keyring: dict[str, str]) -> None:
        write_secret_file(
            self.keyring_path, json.dumps(keyring, indent=2, sort_keys=True).encode("utf-8")
        )

    def _finish_interrupted_rotation(self) -> None:
        """A ``.next`` master key left by an interrupted rotation: adopt it or discard it.

        Adopted when the keyring already unwraps under it (the keyring was saved, the final
        rename was not done); discarded when the keyring still unwraps under the current key.
        """
        pending = self._pending_master_path
        if not pending.exists():
            return
        keyring = self._load_keyring()
        if not keyring:
            pending.unlink()
            return
        name, wrapped = next(iter(sorted(keyring.items())))
        try:
            unwrap_key(read_master_key(pending), wrapped, name)
        except (IntegrityError_, KeyError_):
            pending.unlink()  # rotation stopped before the keyring was saved
            return
        os.replace(pending, self.master_key_path)

    # -- public API ------------------------------------------------------------------------

    def stored_key(self, name: str, create: bool = True) -> bytes:
        """A random key kept wrapped in the keyring under ``name`` (created on first use)."""
        with self._locked():
            master = read_master_key(self.master_key_path)
            keyring = self._load_keyring()
            if name in keyring:
                return unwrap_key(master, keyring[name], name)
            if not create:
                raise KeyError_(f"no key named '{name}' in the keyring")
            key = secrets.token_bytes(KEY_BYTES)
            keyring[name] = wrap_key(master, key, name)
            self._save_keyring(keyring)
            return key

    def forget(self, name: str) -> bool:
        """Remove ``name`` from the keyring (an expired extract's data key: what it encrypted
        can no longer be opened, wherever a copy went); False when it was not there."""
        with self._locked():
            keyring = self._load_keyring()
            if keyring.pop(name, None) is None:
                return False
            self._save_keyring(keyring)
            return True

    def has_key(self, name: str) -> bool:
        return name in self._load_keyring()

    def key_names(self) -> list[str]:
        """Names of the keyring entries (names are not secret: ``extract:<request id>``)."""
        return sorted(self._load_keyring())

    def derive(self, purpose: str, length: int = KEY_BYTES) -> bytes:
        """A per-purpose key: HKDF of the root data key with ``purpose`` as info."""
        return hkdf(self.stored_key(_ROOT_ENTRY), purpose, length)

    def warehouse_key_hex(self) -> str:
        """DuckDB's ENCRYPTION_KEY for the warehouse, as hex text."""
        return self.derive(WAREHOUSE_PURPOSE).hex()

    def rotate_master_key(self) -> int:
        """Make a new master key and re-wrap every keyring entry; returns how many.

        Data encrypted under keyring keys (or keys derived from them) is untouched and stays
        readable: only the wrapping changes. The old master key is overwritten.
        """
        with self._locked():
            old_master = read_master_key(self.master_key_path)
            keyring = self._load_keyring()
            plain = {name: unwrap_key(old_master, blob, name) for name, blob in keyring.items()}
            new_master = secrets.token_bytes(KEY_BYTES)
            rewrapped = {name: wrap_key(new_master, key, name) for name, key in plain.items()}
            # The new master key is on disk (as ".next") before the keyring that needs it, so
            # an interruption between the writes is finished by _finish_interrupted_rotation.
            write_secret_file(self._pending_master_path, _b64(new_master).encode("ascii") + b"\n")
            self._save_keyring(rewrapped)
            os.replace(self._pending_master_path, self.master_key_path)
            return len(rewrapped)

    def status(self) -> KeyStatus:
        """Paths, master key permissions, entry names, and which entries fail to unwrap."""
        present = self.master_key_path.exists()
        mode = stat.S_IMODE(self.master_key_path.stat().st_mode) if present else None
        keyring = self._load_keyring()
        unreadable: list[str] = []
        if present:
            master = read_master_key(self.master_key_path)
            for name, wrapped in sorted(keyring.items()):
                try:
                    unwrap_key(master, wrapped, name)
                except IntegrityError_:
                    unreadable.append(name)
        else:
            unreadable = sorted(keyring)
        return KeyStatus(
            master_key_path=self.master_key_path,
            master_key_present=present,
            master_key_mode=mode,
            keyring_path=self.keyring_path,
            entries=tuple(sorted(keyring)),
            unreadable_entries=tuple(unreadable),
        )
