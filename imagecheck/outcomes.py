"""How a check ends when it cannot judge the image.

- fail(): a failure that shows only the message. pytest.fail() called while an exception
  is being handled shows that exception too ("During handling of the above exception,
  another exception occurred"); the message already holds everything, so fail() drops it.
- not_applicable(): a skip for a check that does not apply to the image (images.yaml
  promises nothing it could judge, or another variant of the check covers this host).
  The sign-off never blocks on it. Any other skip means the check could not run here
  (no GPU granted, no scanner) and blocks a release run (--require-gpu).
"""
from __future__ import annotations

from typing import NoReturn

import pytest

from .errors import NotPromised


def fail(message: str) -> NoReturn:
    """Fail the running check with message alone: no traceback, no chained exception."""
    raise pytest.fail.Exception(message, pytrace=False) from None


NOT_APPLICABLE = "does not apply: "


def not_applicable(reason: str) -> NoReturn:
    """Skip: this check does not apply to the image; the reason says why."""
    pytest.skip(NOT_APPLICABLE + reason)


def is_not_applicable(skip_reason: str | None) -> bool:
    """Whether a skip reason (as a report shows it) came from not_applicable()."""
    return NOT_APPLICABLE in (skip_reason or "")


def skip_for(error: Exception) -> NoReturn:
    """Skip for an error that means the check cannot be judged: not applicable when
    images.yaml promises nothing (NotPromised), else 'could not run here'."""
    if isinstance(error, NotPromised):
        not_applicable(str(error))
    pytest.skip(str(error))
