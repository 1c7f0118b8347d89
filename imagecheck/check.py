"""What a check (a test in tests/) needs from the suite, in one module.

    from imagecheck.check import fail, not_applicable, record_perf

- fail(message): fail with the message alone (it says expected, observed, where, hint);
- not_applicable(reason): the check does not apply to this image (never blocks a sign-off);
- could_not_run(reason, requirement), skip_for(error): this host cannot run it (what it lacks, as data);
- record_perf(evidence, subject, measure, value, unit): a performance figure as evidence;
- ImagecheckError and its kinds: raise one (the plugin turns it into a failure with its
  message) or catch one from a helper.
The fixtures (image, facts, evidence, require_gpus, progress, services, ddp_runs) come
from the plugin; `pytest --fixtures` documents them.
"""
from .errors import ImagecheckError, NotPromised, explain
from .pytest_plugin.outcomes import could_not_run, fail, not_applicable, skip_for
from .rules.perf import record_perf

__all__ = ["ImagecheckError", "NotPromised", "could_not_run", "explain", "fail", "not_applicable", "record_perf",
           "skip_for"]
