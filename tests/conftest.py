"""Shared pytest configuration: hypothesis profiles.

- ``dev`` (default): random examples on every run, so developers keep exploring new cases
  (a failure prints its ``@reproduce_failure`` blob and the example to pin as ``@example``).
- ``ci`` (loaded when the ``CI`` environment variable is set): ``derandomize=True`` and no
  example database, so a CI run is reproducible and never flaky; the same examples every time,
  sized to keep each area's tests within its time budget.
- ``deep``: many examples, for a local hunt before changing the disclosure engine
  (``HYPOTHESIS_PROFILE=deep pytest tests/test_analytics_disclosure.py``).

``HYPOTHESIS_PROFILE`` picks any of them explicitly. Settings a test passes to ``@settings``
win over the profile. Test support modules (``tests/*_support.py``, ``*_fixtures.py``) stay
plain modules imported by name; nothing here replaces them.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", parent=settings.get_profile("dev"), max_examples=15, derandomize=True, database=None,
    print_blob=True,
)
settings.register_profile("deep", parent=settings.get_profile("dev"), max_examples=400)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
