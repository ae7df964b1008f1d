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
- :mod:`services.provisional_link`: provisional person ids between annual runs.
- :mod:`services.clerical_review`: the pairs the link was unsure about; a reviewer decides
  one (the next link uses it as a label).
- :mod:`services.link_quality`: precision and recall estimated from the clerical quality
  sample (no truth file), with intervals.
- :mod:`services.id_change_log`: how many person ids a run merged, split or retired, and why;
  notes to researchers whose extracts' ids changed (counts only).
- :mod:`services.quality_return`: a partner's data-quality return on its own submissions.
- :mod:`services.publish`: rebuild the outcomes; publish the serving snapshot.
- :mod:`services.data_request`: a researcher's request from draft to download.
- :mod:`services.request_drafts`: what a draft's form holds; what stops a submission.
- :mod:`services.request_facts`: what pages, answers and e-mails say about one request.
- :mod:`services.choices`: what exists to choose from, and the door checks against it.
- :mod:`services.preview`: preview a request (what would leave, before approval).
- :mod:`services.board_decision`: the board reads and decides a request.
- :mod:`services.fulfil`: fulfil approved requests (build, check and register extracts).
- :mod:`services.extract_build`: build the extract of one approved request given as a file.
- :mod:`services.output_decision`: check an output (a checker's decision on a built extract).
- :mod:`services.review_decision`: decide a review (a data steward's decision for their
  organisation).
- :mod:`services.notifications`: send the e-mail outbox; remind partners of files due.

The README's "Use cases" table says which front doors call each one.
"""
