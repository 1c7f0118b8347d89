"""What a pytest process knows of pytest-xdist: whether it is a worker, which one, how
many there are, and what the controller handed it. The one place that reads workerinput."""
from __future__ import annotations

from typing import Any

RUN_ID_KEY = "imagecheck_run_id"


def worker_input(config: Any) -> dict:
    return getattr(config, "workerinput", None) or {}


def worker_id(config: Any) -> str | None:
    """'gw0', 'gw1'... on an xdist worker; None in a process of its own (or the controller)."""
    return worker_input(config).get("workerid") if config is not None else None


def worker_count(config: Any) -> int | None:
    return worker_input(config).get("workercount") if config is not None else None


def controller_run_id(config: Any) -> str | None:
    """The run id the controller gave this worker (pytest_configure_node), so every worker
    labels its containers as one run."""
    return worker_input(config).get(RUN_ID_KEY)
