"""Use cases: the one place that combines the libraries (floor 3).

core <- libraries {synth, ingest, linkage, deidentify, analytics, governance} <- services <-
front doors {api, cli, dagster_project}. Each module holds one use case as keyword-only
functions taking the resources they need (settings, keys, governance sessions); API routes,
portal pages, CLI commands and Dagster assets parse, call one of them, and render.

- :mod:`services.ingest_batch`: ingest a batch of partner files; release held files.
- :mod:`services.receive_upload`: receive a partner's upload (API and portal); the partner's
  own overview of what it sent.
- :mod:`services.submission_report`: rows received per partner, year and file type.
- :mod:`services.annual_link`: run the annual link.
- :mod:`services.publish`: rebuild the outcomes; publish the serving snapshot.
- :mod:`services.preview`: preview a request (what would leave, before approval).
- :mod:`services.fulfil`: fulfil approved requests (build, check and register extracts).
- :mod:`services.output_check`: check an output (a checker's decision on a built extract).
- :mod:`services.review_decision`: decide a review (a data steward's decision for their
  organisation).
"""
