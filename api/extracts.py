"""Extract keys for their owners, as age identities (the key itself comes from the deidentify
library): what the API's key routes and the portal's key page hand out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.keys import KeyProvider


@dataclass(frozen=True)
class OwnerKey:
    identity: str  # AGE-SECRET-KEY-1...
    key_file: str  # the identity file to save (comments, then the identity)
    file_name: str  # what to save it as
    package_name: str  # the download's file name
    command: str  # the one command that opens the download


def owner_key(keys: KeyProvider, request_id: str, expires_at: datetime) -> OwnerKey:
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key, key_file_text
    from deidentify.contents import PACKAGE_SUFFIX
    from deidentify.package import age_identity

    data_key = extract_data_key(keys, request_id)
    file_name, package_name = f"{request_id}-key.txt", f"{request_id}{PACKAGE_SUFFIX}"
    return OwnerKey(identity=age_identity(data_key),
                    key_file=key_file_text(request_id, data_key, f"{expires_at:%Y-%m-%d}"),
                    file_name=file_name, package_name=package_name,
                    command=f"age -d -i {file_name} {package_name} | tar -x")
