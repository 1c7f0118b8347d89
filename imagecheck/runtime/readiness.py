"""The one readiness wait: ask something until it says yes, or the time runs out.

Every "wait until it answers" of the suite goes through wait_until: a published port
answering from the host, a command's start marker in a container's log, a container that
exits. The caller's probe returns a value that is truthy when done; on_round runs between
rounds (it may raise to stop the wait, for a container that stopped).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Waited(Generic[T]):
    """How a wait ended: the last value seen, whether it was a yes, and after how long."""

    value: T
    done: bool
    seconds: float


def wait_until(probe: Callable[[float], T], *, timeout: float, poll: float = 0.5,
               on_round: Callable[[float], None] | None = None) -> Waited[T]:
    """Call probe(elapsed seconds) until it returns something truthy or `timeout` seconds
    have passed (the probe is asked at least once, and once more at the limit)."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        value = probe(elapsed)
        if value:
            return Waited(value, True, round(time.monotonic() - started, 2))
        if elapsed > timeout:
            return Waited(value, False, round(time.monotonic() - started, 2))
        if on_round is not None:
            on_round(elapsed)
        time.sleep(poll)
