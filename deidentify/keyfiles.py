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
    """An extract data key from a file: the API key route's JSON response saved as is
    (``{"key_base64": ...}``), or bare base64 text as ``write_key_file`` writes it."""
    import base64
    import binascii
    import json

    # the key file is the caller's input (a researcher's download): its faults are theirs
    where = Location(file=str(path), field="key")
    if not path.exists():
        raise InputRejected("no such key file", Location(file=str(path)))
    text = path.read_bytes().strip()
    if text.startswith(b"{"):  # the key route's JSON answer, saved as is
        try:
            text = json.loads(text.decode("utf-8"))["key_base64"].encode("ascii")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputRejected("JSON without a key_base64 field", where) from None
    try:
        key = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise InputRejected("neither the API's key response nor base64 text", where) from None
    if len(key) != KEY_BYTES:
        raise InputRejected(f"does not hold a {KEY_BYTES}-byte extract key", where)
    return key


def package_key(header: PackageHeader, keys: KeyProvider | None, data_key: bytes | None) -> bytes:
    if data_key is not None:
        return data_key
    if keys is None:
        raise KeyError_("opening an extract needs the keyring or the extract's data key")
    if not keys.has_key(header.key_name):
        # Most often a researcher's download opened without --key-file: say that first, and
        # only then the rarer causes (a package from another deployment, an edited header).
        raise IntegrityError_(
            f"this keyring holds no key for request {header.request_id!r}: pass the key the "
            "API gives the request's owner with --key-file (GET /v1/requests/"
            f"{header.request_id}/extract/key); otherwise the package comes from another "
            "deployment or its header was altered"
        )
    return keys.stored_key(header.key_name, create=False)
