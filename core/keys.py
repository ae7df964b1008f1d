"""Key provider: master key file, wrapped data keys, HKDF-derived per-purpose keys.

Envelope scheme, so rotating the master key never re-encrypts data:
- the master key (32 random bytes, file mode 0600) only wraps other keys;
- the keyring (``$C2C_HOME/keyring.json``) holds a random *root data key* and any per-object
  keys (one per extract), each AES-256-GCM-wrapped under the master key;
- per-purpose keys (warehouse, raw store, pseudonyms of request N, ...) are HKDF-SHA256 of the
  root data key with the purpose as ``info``. Rotation re-wraps the keyring entries only.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import IntegrityError_, KeyError_

KEY_BYTES = 32
_ROOT_ENTRY = "root_data_key"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def write_secret_file(path: Path, data: bytes) -> None:
    """Write bytes readable only by the owner (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def create_master_key(path: Path) -> None:
    """Create a new master key file; refuses to overwrite one."""
    if path.exists():
        raise KeyError_(f"master key file already exists at {path}; refusing to overwrite it")
    write_secret_file(path, _b64(secrets.token_bytes(KEY_BYTES)).encode("ascii") + b"\n")


def read_master_key(path: Path) -> bytes:
    if not path.exists():
        raise KeyError_(f"no master key file at {path}; create one with `c2c keys init`")
    try:
        key = _unb64(path.read_text(encoding="ascii").strip())
    except ValueError as exc:
        raise KeyError_(f"master key file {path} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyError_(f"master key file {path} does not hold a {KEY_BYTES}-byte key")
    return key


def wrap_key(kek: bytes, key: bytes, label: str) -> str:
    nonce = secrets.token_bytes(12)
    return _b64(nonce + AESGCM(kek).encrypt(nonce, key, label.encode("utf-8")))


def unwrap_key(kek: bytes, wrapped: str, label: str) -> bytes:
    blob = _unb64(wrapped)
    try:
        return AESGCM(kek).decrypt(blob[:12], blob[12:], label.encode("utf-8"))
    except InvalidTag as exc:
        raise IntegrityError_(
            f"key '{label}' cannot be unwrapped: wrong master key or tampered keyring"
        ) from exc


def hkdf(key_material: bytes, purpose: str, length: int = KEY_BYTES) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode("utf-8")
    ).derive(key_material)


class KeyProvider:
    """Gives out keys by purpose. Holds key bytes in memory only; never logs them."""

    def __init__(self, master_key_path: Path, keyring_path: Path) -> None:
        self.master_key_path = master_key_path
        self.keyring_path = keyring_path

    def __repr__(self) -> str:
        return f"KeyProvider(master_key_path={self.master_key_path!s})"

    def _load_keyring(self) -> dict[str, str]:
        if not self.keyring_path.exists():
            return {}
        data: dict[str, str] = json.loads(self.keyring_path.read_text(encoding="utf-8"))
        return data

    def _save_keyring(self, keyring: dict[str, str]) -> None:
        write_secret_file(
            self.keyring_path, json.dumps(keyring, indent=2, sort_keys=True).encode("utf-8")
        )

    def stored_key(self, name: str, create: bool = True) -> bytes:
        """A random key kept wrapped in the keyring under ``name`` (created on first use)."""
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

    def has_key(self, name: str) -> bool:
        return name in self._load_keyring()

    def derive(self, purpose: str, length: int = KEY_BYTES) -> bytes:
        """A per-purpose key: HKDF of the root data key with ``purpose`` as info."""
        return hkdf(self.stored_key(_ROOT_ENTRY), purpose, length)

    def warehouse_key_hex(self) -> str:
        """DuckDB's ENCRYPTION_KEY for the warehouse, as hex text."""
        return self.derive("warehouse-encryption").hex()

    def rotate_master_key(self) -> int:
        """Make a new master key and re-wrap every keyring entry under it. Returns entries re-wrapped.

        """
        old_master = read_master_key(self.master_key_path)
        keyring = self._load_keyring()
        plain = {name: unwrap_key(old_master, wrapped, name) for name, wrapped in keyring.items()}
        new_master = secrets.token_bytes(KEY_BYTES)
        rewrapped = {name: wrap_key(new_master, key, name) for name, key in plain.items()}
        # The new master key is on disk (as ".next") before the keyring that needs it, so an
        # interruption between the two writes can be recovered by renaming that file.
        pending = self.master_key_path.with_name(self.master_key_path.name + ".next")
        write_secret_file(pending, _b64(new_master).encode("ascii") + b"\n")
        self._save_keyring(rewrapped)
        os.replace(pending, self.master_key_path)
        return len(rewrapped)
