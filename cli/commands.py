"""The table of ``c2c`` commands: ``c2c --help`` lists it without importing any command module."""

from __future__ import annotations

# command name -> (module under cli/, the one-line help shown by `c2c --help`).
# tests/cli/test_startup.py checks each line against the command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo_cmd", "Generate partner data, run the whole pipeline through Dagster, "
                         "then serve the API."),
    "generate": ("generate_cmd", "Generate synthetic CALPADS, college and CCGI files plus "
                                 "truth.parquet."),
    "ingest": ("ingest_cmd", "Receive partner files: raw store, validate, load staging; exit 2 "
                             "if any file is rejected."),
    "submissions": ("submissions_cmd", "Rows received per partner, academic year and file "
                                       "type; what SWP rounds still need."),
    "release-held": ("submissions_cmd", "Load held files whose partner now has an executed, "
                                        "current agreement."),
    "link": ("link_cmd", "Annual link: standardise identities, Splink, stable person ids, run "
                         "summary."),
    "link-provisional": ("link_cmd", "Provisional person ids for records the last annual "
                                     "link did not see."),
    "id-changes": ("id_changes_cmd", "Person ids merged, split or retired by a link run and "
                                     "why; per partner (exact)."),
    "evaluate": ("link_cmd", "Pairwise precision / recall / F1 and cluster metrics of the "
                             "current crosswalk."),
    "review": ("review_cmd", "Clerical review of uncertain pairs: list them, decide."),
    "quality": ("quality_cmd", "Linkage quality from the clerical sample: estimate precision "
                               "and recall with intervals."),
    "outcomes": ("publish_cmd", "Rebuild analytics.student_year (outcomes keyed by person_id; "
                                "fails on identifiers)."),
    "publish": ("publish_cmd", "Write the serving snapshot (suppressed aggregates) atomically "
                               "and print a summary."),
    "fulfil": ("fulfil_cmd", "Build the extract of every request the board approved and that "
                             "has none yet."),
    "serve": ("serve_cmd", "Serve the API (OpenAPI docs at /docs). Settings come from C2C_* "
                           "variables."),
    "export": ("link_cmd", "Operator exports."),
    "keys": ("keys_cmd", "Master key and keyring: create, rotate, inspect."),
    "extract": ("extract_cmd", "Research extracts: build (operator), decrypt and verify "
                               "(operator or owner)."),
    "audit": ("audit_cmd", "Governance audit log."),
    "partners": ("partners_cmd", "Partner registry and data-sharing agreements."),
    "users": ("partners_cmd", "Users, roles and API keys."),
    "migrate": ("migrate_cmd", "Apply pending governance-store migrations (idempotent; run "
                               "after each upgrade)."),
    "notify": ("notify_cmd", "E-mail notifications (off until C2C_SMTP_HOST is set)."),
}
