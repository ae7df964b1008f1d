"""Extract data keys for their owners (the key itself comes from the deidentify library)."""

from __future__ import annotations

from core.keys import KeyProvider
from core.settings import Settings


def data_key_hex(settings: Settings, request_id: str) -> str:
    from deidentify import extract_data_key

    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    return extract_data_key(keys, request_id).hex()
