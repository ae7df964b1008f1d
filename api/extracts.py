"""Extract data keys for their owners (the key itself comes from the deidentify library)."""

from __future__ import annotations

import base64

from core.keys import KeyProvider


def data_key_base64(keys: KeyProvider, request_id: str) -> str:
    """Base64, the format of the key files ``deidentify.write_key_file`` writes."""
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key

    return base64.b64encode(extract_data_key(keys, request_id)).decode("ascii")
