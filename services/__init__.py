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
- :mod:`services.clerical_review`: the pairs the link was unsure about; a reviewer decides
  one (the next link uses it as a label).
- :mod:`services.link_quality`: precision and recall estimated from the clerical quality
  sample (no truth file), with intervals.
- :mod:`services.publish`: rebuild the outcomes; publish the serving snapshot.
- :mod:`services.data_request`: a researcher's request from draft to download.
- :mod:`services.choices`: what exists to choose from, and the door checks against it.
- :mod:`services.preview`: preview a request (what would leave, before approval).
- :mod:`services.board_decision`: the board reads and decides a request.
- :mod:`services.fulfil`: fulfil approved requests (build, check and register extracts).
- :mod:`services.output_decision`: check an output (a checker's decision on a built extract).
- :mod:`services.review_decision`: decide a review (a data steward's decision for their
  organisation).
"""
