"""How a check ends when it cannot judge the image: a failure that shows only the message.

pytest.fail() called while an exception is being handled shows that exception too
("During handling of the above exception, another exception occurred"); the message
already holds everything it said, so fail() drops the chain.
"""
from __future__ import annotations

from typing import NoReturn

import pytest


def fail(message: str) -> NoReturn:
    """Fail the running check with message alone: no traceback, no chained exception."""
    raise pytest.fail.Exception(message, pytrace=False) from None
