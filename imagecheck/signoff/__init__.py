"""The release sign-off.

model.py      the model (check record, regression, image report, run, shard, sign-off) and
              report.json (to_json/from_json); the outcome buckets, defined once
records.py    check records from pytest's TestReports (required decided there)
assemble.py   an image's report from promises, description and records, then judged
verdict.py    the verdict and the regressions' effects, judged once per image
baseline.py   an earlier report.json and the regressions against it
shard.py      what a shard says about its host and what it judged
merge.py      one sign-off from the shards of several hosts (the rules)
matrix.py     checks by host, for the pages of a merged sign-off
requirement.py  a missing requirement in words
html.py, markdown.py, junit.py  the renderings; writer.py writes them
plugin.py     the pytest side (options, the controller's report plugin); feed.py what the
              processes that run the checks send it
cli.py        `imagecheck-signoff merge` (python -m imagecheck.signoff)
"""
