"""Extract keys: the owner's data key, key files (age identity files: ``age -d -i`` and
``c2c extract decrypt --key-file`` read them), and the key that opens a package (from the
keyring or from a data key)."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputRejected, IntegrityError_, KeyError_, Location
from core.keys import KeyProvider, extract_key_name, write_secret_file
from deidentify.package import KEY_BYTES, age_identity, identity_key


def extract_data_key(keys: KeyProvider, request_id: str) -> bytes:
    """The data key of one extract (for its owner's ``c2c extract decrypt --key-file``)."""
    return keys.stored_key(extract_key_name(request_id), create=False)


def key_file_text(request_id: str, key: bytes, expires_at: str | None = None) -> str:
    """An age identity file: comment lines, then the key (``age -d -i FILE`` reads it)."""
    lines = [f"# c2c-link extract key for request {request_id}",
             f"# open the package with: age -d -i {request_id}-key.txt {request_id}.tar.age"
             " | tar -x"]
    if expires_at:
        lines.append(f"# the extract expires {expires_at}")
    lines.append("# keep this file secret: it opens the data")
    return "\n".join([*lines, age_identity(key)]) + "\n"


def write_key_file(path: Path, key: bytes, request_id: str = "extract") -> None:
    """Save an extract data key as an age identity file, readable by the owner only (0600)."""
    write_secret_file(path, key_file_text(request_id, key).encode("ascii"))


def read_key_file(path: Path) -> bytes:
    """An extract data key from a file: an age identity file (what the portal and the API's
    key route hand out), the key route's JSON answer saved as is, or bare base64 text."""
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
            text = json.loads(text.decode("utf-8"))["age_identity"].encode("ascii")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputRejected("JSON without an age_identity field", where) from None
    lines = [line.strip() for line in text.decode("ascii", errors="replace").splitlines()
             if line.strip() and not line.strip().startswith("#")]
    if len(lines) == 1 and lines[0].upper().startswith("AGE-SECRET-KEY-1"):
        try:
            return identity_key(lines[0])
        except ValueError as exc:
            raise InputRejected(str(exc), where) from None
    try:
        key = base64.b64decode("".join(lines), validate=True)
    except (ValueError, binascii.Error):
        raise InputRejected("neither an age identity (AGE-SECRET-KEY-1...) nor base64 text",
                            where) from None
    if len(key) != KEY_BYTES:
        raise InputRejected(f"does not hold a {KEY_BYTES}-byte extract key", where)
    return key


def package_key(request_id: str | None, keys: KeyProvider | None,
                data_key: bytes | None) -> bytes:
    if data_key is not None:
        return data_key
    if keys is None:
        raise KeyError_("opening an extract needs the keyring or the extract's data key")
    if request_id is None:
        raise KeyError_("the package's file name does not say which request it is "
                        "(<request id>.tar.age): rename it, or pass its key file")
    if not keys.has_key(extract_key_name(request_id)):
        # Most often a researcher's download opened without --key-file: say that first, and
        # only then the rarer cause (a package from another deployment).
        raise IntegrityError_(
            f"this keyring holds no key for request {request_id!r}: pass the key the "
            "API gives the request's owner with --key-file (GET /v1/requests/"
            f"{request_id}/extract/key); otherwise the package comes from another deployment"
        )
    return keys.stored_key(extract_key_name(request_id), create=False)
