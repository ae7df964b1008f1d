"""Extract data keys for their owners (the key itself comes from the deidentify library)."""

from __future__ import annotations

import base64

from core.keys import KeyProvider
from core.settings import Settings


def data_key_base64(settings: Settings, request_id: str) -> str:
    """Base64, the format of the key files ``deidentify.write_key_file`` writes."""
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key

    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    return base64.b64encode(extract_data_key(keys, request_id)).decode("ascii")
