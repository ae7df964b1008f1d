"""Extract keys: the owner's data key, key files (``c2c extract decrypt --key-file``), and the
key that opens a package (from the keyring or from a data key)."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputRejected, IntegrityError_, KeyError_, Location
from core.keys import KeyProvider, extract_key_name, write_secret_file
from deidentify.package import KEY_BYTES, PackageHeader


def extract_data_key(keys: KeyProvider, request_id: str) -> bytes:
    """The data key of one extract (for its owner's ``c2c extract decrypt --key-file``)."""
    return keys.stored_key(extract_key_name(request_id), create=False)


def write_key_file(path: Path, key: bytes) -> None:
    """Save an extract data key as base64 text, readable by the owner only (0600)."""
    import base64

    write_secret_file(path, base64.b64encode(key) + b"\n")


def read_key_file(path: Path) -> bytes:
    """An extract data key from a file written by ``write_key_file`` (or the API)."""
    import base64
    import binascii

    # the key file is the caller's input (a researcher's download): its faults are theirs
    where = Location(file=str(path), field="key")
    if not path.exists():
        raise InputRejected("no such key file", Location(file=str(path)))
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (ValueError, binascii.Error):
        raise InputRejected("not base64 text", where) from None
    if len(key) != KEY_BYTES:
        raise InputRejected(f"does not hold a {KEY_BYTES}-byte extract key", where)
    return key


def package_key(header: PackageHeader, keys: KeyProvider | None, data_key: bytes | None) -> bytes:
    if data_key is not None:
        return data_key
    if keys is None:
        raise KeyError_("opening an extract needs the keyring or the extract's data key")
    if not keys.has_key(header.key_name):
        raise IntegrityError_(
            f"no key for request {header.request_id!r} in this keyring: the package was made "
            "elsewhere, or its header was altered"
        )
    return keys.stored_key(header.key_name, create=False)
