"""How a check ends when it cannot judge the image, and what a report makes of it.

- fail(): a failure that shows only the message. pytest.fail() called while an exception
  is being handled shows that exception too ("During handling of the above exception,
  another exception occurred"); the message already holds everything, so fail() drops it.
- not_applicable(): a skip for a check that does not apply to the image (images.yaml
  promises nothing it could judge, or another variant of the check covers this host).
  The sign-off never blocks on it.
- could_not_run(): the check applies but this host cannot run it (no GPU granted, no
  bridge network, no CVE scanner). It skips, saying what is missing; a release run
  (--require-gpu) blocks on it. The missing requirement travels with the exception as
  data ({"kind": "gpus", "wanted": 2, "granted": 1}), so a report can say, and a merge of
  runs on several hosts can tell, what each host lacked. fail_for_the_host() is its
  release-run form for the GPU checks: they fail at once, with the same data.
- Any other skip also counts as "could not run here".

The four statuses a sign-off knows (passed, failed, not_applicable, could_not_run) are
named here; signoff/model.status_of gives a record its status.
"""
from __future__ import annotations

from typing import Any, NoReturn

import pytest

from ..errors import NotPromised

NOT_APPLICABLE = "does not apply: "
RELEASE_NOTE = "--require-gpu makes that a failure"
PASSED, FAILED, NOT_APPLICABLE_STATUS, COULD_NOT_RUN = "passed", "failed", "not_applicable", "could_not_run"


def _carrying(error: BaseException, requirement: dict | None) -> BaseException:
    """pytest's own outcome exception, with the missing requirement as an attribute (a
    subclass would change how pytest names the outcome in its reports)."""
    error.requirement = requirement  # type: ignore[attr-defined]
    return error


def fail(message: str) -> NoReturn:
    """Fail the running check with message alone: no traceback, no chained exception."""
    raise pytest.fail.Exception(message, pytrace=False) from None


def not_applicable(reason: str) -> NoReturn:
    """Skip: this check does not apply to the image; the reason says why."""
    pytest.skip(NOT_APPLICABLE + reason)


def could_not_run(reason: str, requirement: dict | None = None) -> NoReturn:
    """Skip: this host cannot run the check; requirement is what it lacks, as data."""
    raise _carrying(pytest.skip.Exception(reason, pytrace=False), requirement) from None


def fail_for_the_host(reason: str, requirement: dict | None = None) -> NoReturn:
    """Fail (a release run): this host cannot run the check; requirement is what it lacks."""
    raise _carrying(pytest.fail.Exception(f"{reason}\n  ({RELEASE_NOTE})", pytrace=False), requirement) from None


def skip_for(error: Exception) -> NoReturn:
    """Skip for an error that means the check cannot be judged: not applicable when
    images.yaml promises nothing (NotPromised), else 'could not run here' (with the
    error's `requirement`, when it carries one)."""
    if isinstance(error, NotPromised):
        not_applicable(str(error))
    could_not_run(str(error), getattr(error, "requirement", None))


def is_not_applicable(skip_reason: str | None) -> bool:
    """Whether a skip reason (as a report shows it) came from not_applicable()."""
    return NOT_APPLICABLE in (skip_reason or "")


def requirement_of(excinfo: Any) -> dict | None:
    """The missing requirement a could-not-run exception carries, if any."""
    return getattr(getattr(excinfo, "value", None), "requirement", None) if excinfo is not None else None

