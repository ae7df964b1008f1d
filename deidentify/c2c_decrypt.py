#!/usr/bin/env python3
"""c2c_decrypt.py: open a c2c-link research extract (.c2cx) with nothing but this file.

Needs Python 3.9+ and the ``cryptography`` package (``pip install cryptography``), not the
c2c-link service. Usage::

    python c2c_decrypt.py EXTRACT.c2cx KEY_FILE OUT_DIR

KEY_FILE is what the API's ``GET /v1/requests/{id}/extract/key`` returns, saved as is
(``curl ... -o extract.key``), or just its base64 ``key_base64`` value. Every chunk is
authenticated and every file checked against the package's manifest before OUT_DIR gets
anything; an expired package is refused. Exit status 0 ok, 1 refused (message on stderr).

Format (docs/deidentify.md): MAGIC | u32 header length | JSON header | AES-256-GCM chunks
under HKDF-SHA256(key, salt, "c2c-extract v1 chunk key"), nonce = prefix(7) | u32 counter |
last flag, header bytes as associated data; the plaintext is records F(name) D(data)* E ... Z.
This file must stay standalone: standard library and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import sys
import tempfile
from datetime import datetime, timezone
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"C2C-EXTRACT\n"
TAG = 16
MAX_HEADER = 64 * 1024
MAX_CHUNK = 64 << 20
NAME_OK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class Refused(Exception):
    """The package or key cannot be used; the message says why."""


def read_key(path: str) -> bytes:
    """The API's key response (JSON with ``key_base64``) or bare base64 text."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().strip()
    except OSError as exc:
        raise Refused(f"cannot read key file {path}: {exc.strerror}") from None
    if text.startswith(b"{"):
        try:
            text = json.loads(text.decode("utf-8"))["key_base64"].encode("ascii")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Refused(f"key file {path} is JSON without a key_base64 field") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise Refused(f"key file {path} is neither the API's key response nor base64") from None
    if len(key) != 32:
        raise Refused(f"key file {path} does not hold a 32-byte extract key")
    return key


def _exact(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise Refused("package is cut short")
    return data


class Chunks:
    """Authenticated plaintext of the chunk stream, read with exact sizes."""

    def __init__(self, handle: BinaryIO, key: bytes, header: dict[str, Any],
                 header_bytes: bytes) -> None:
        salt = base64.b64decode(header["salt"])
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                       info=b"c2c-extract v1 chunk key").derive(key)
        self.aead, self.handle, self.aad = AESGCM(derived), handle, header_bytes
        self.prefix = base64.b64decode(header["nonce_prefix"])
        self.sealed = int(header["chunk_size"]) + TAG
        if len(self.prefix) != 7 or not 0 < self.sealed - TAG <= MAX_CHUNK:
            raise Refused("package header has impossible values")
        self.counter, self.plain, self.ahead, self.last = 0, b"", b"", False
        self.next_chunk()

    def next_chunk(self) -> None:
        if self.last:
            raise Refused("package ends after its final chunk")
        sealed = self.ahead + self.handle.read(self.sealed - len(self.ahead))
        self.ahead = self.handle.read(1)
        self.last = not self.ahead
        if len(sealed) < TAG or (not self.last and len(sealed) != self.sealed):
            raise Refused("package is cut short")
        nonce = self.prefix + struct.pack(">I", self.counter) + (b"\x01" if self.last else b"\x00")
        try:
            self.plain += self.aead.decrypt(nonce, sealed, self.aad)
        except InvalidTag:
            raise Refused(f"authentication failed at chunk {self.counter}: the key is not this "
                          "package's key, or the package was altered or truncated") from None
        self.counter += 1

    def read(self, size: int) -> bytes:
        while len(self.plain) < size:
            self.next_chunk()
        data, self.plain = self.plain[:size], self.plain[size:]
        return data


def decrypt(package: str, key: bytes, out_dir: str,
            now: datetime | None = None) -> dict[str, Any]:
    """Write the package's files into ``out_dir``; returns its manifest."""
    now = now or datetime.now(timezone.utc)  # noqa: UP017 - runs on Python 3.9 too
    with open(package, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise Refused(f"{package} is not a c2c extract package")
        raw_length = _exact(handle, 4)
        (length,) = struct.unpack(">I", raw_length)
        if length > MAX_HEADER:
            raise Refused("package header length is impossible")
        body = _exact(handle, length)
        try:
            header = json.loads(body.decode("utf-8"))
            expires = datetime.fromisoformat(header["expires_at"])
        except (ValueError, KeyError, TypeError):
            raise Refused("package header is not readable") from None
        if header.get("format") != "c2c-extract" or header.get("version") != 1:
            raise Refused("package is of an unknown format or version")
        chunks = Chunks(handle, key, header, MAGIC + raw_length + body)  # authenticates header
        if now >= expires:
            raise Refused(f"package expired at {expires.isoformat()}; it can no longer be opened")
        os.makedirs(out_dir, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".c2c-decrypt-", dir=out_dir)
        try:
            digests = _unpack(chunks, staging)
            if chunks.plain or not chunks.last:
                raise Refused("package has data after its end")
            manifest = _check_manifest(staging, digests, header["request_id"])
            for name in digests:
                os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
        finally:
            for name in os.listdir(staging):
                os.unlink(os.path.join(staging, name))
            os.rmdir(staging)
    return manifest


def _unpack(chunks: Chunks, staging: str) -> dict[str, tuple[str, int]]:
    digests: dict[str, tuple[str, int]] = {}
    while (kind := chunks.read(1)) != b"Z":
        if kind != b"F":
            raise Refused("package has an unknown record")
        (name_length,) = struct.unpack(">H", chunks.read(2))
        name = chunks.read(name_length).decode("utf-8", "replace")
        if not name or name[0] in "._-" or not set(name) <= NAME_OK or name in digests:
            raise Refused("package names a file it may not")
        digest, size = hashlib.sha256(), 0
        with open(os.path.join(staging, name), "xb") as target:
            while (record := chunks.read(1)) == b"D":
                (n,) = struct.unpack(">I", chunks.read(4))
                data = chunks.read(n)
                digest.update(data)
                size += n
                target.write(data)
        if record != b"E":
            raise Refused("package has an unknown record")
        digests[name] = (digest.hexdigest(), size)
    return digests


def _check_manifest(staging: str, digests: dict[str, tuple[str, int]],
                    request_id: str) -> dict[str, Any]:
    try:
        with open(os.path.join(staging, "manifest.json"), encoding="utf-8") as handle:
            manifest = json.load(handle)
        listed = {n: (str(e["sha256"]), int(e["bytes"])) for n, e in manifest["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise Refused("package has no readable manifest.json") from None
    data = {n: d for n, d in digests.items() if n != "manifest.json"}
    if listed != data or manifest.get("request_id") != request_id:
        raise Refused("package files do not match their manifest")
    return manifest  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python c2c_decrypt.py EXTRACT.c2cx KEY_FILE OUT_DIR", file=sys.stderr)
        return 2
    package, key_file, out_dir = args
    try:
        manifest = decrypt(package, read_key(key_file), out_dir)
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    for name in sorted(manifest["files"]):
        print(f"wrote {os.path.join(out_dir, name)}")
    print(f"wrote {os.path.join(out_dir, 'manifest.json')}")
    print(f"request {manifest['request_id']}: {manifest.get('rows', '?')} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
