"""What the sign-off report needs from the processes that run the checks.

The report itself (signoff/plugin.py) lives only on the controller, as junitxml's LogXML
does, and sees nothing but TestReports. Two things must reach it from where the checks
run, which with `-n` is an xdist worker:

1. Which image and which check a report belongs to. A hook wrapper on
   pytest_runtest_makereport sets `report.imagecheck = {"image", "check", "function",
   "doc", "worker"}`. pytest serializes a report's attributes, so xdist carries it to the
   controller's pytest_runtest_logreport with the rest of the report (the nodeid alone is
   ambiguous: `pytorch-cuda:v2.6-seedrecipe` is also `pytorch-cuda:v2.6` plus a param).
2. Each image's metadata (digest, size, labels, versions seen inside, ...): taken by the
   image fixture when the image's checks end (image/description.py), before its
   containers go; at the end of a worker's session they go into `config.workeroutput`,
   which xdist hands to the controller's pytest_testnodedown (the channel pytest-cov
   uses). Without xdist the report reads them from the plugin's state.
"""
from __future__ import annotations

from typing import Any

import pytest

from ..pytest_plugin.items import image_ref
from ..pytest_plugin.outcomes import requirement_of
from ..pytest_plugin.xdist import worker_id

WORKEROUTPUT_KEY = "imagecheck_images"


def check_name(item: pytest.Item) -> tuple[str | None, str, str]:
    """(image ref, check name without the image, function name) of a test item."""
    function = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
    callspec = getattr(item, "callspec", None)
    ref = image_ref(item)
    if callspec is None:
        return ref, item.name, function
    ident = callspec.id
    if ref is not None:
        if ident == ref:
            ident = ""
        elif ident.startswith(ref + "-"):
            ident = ident[len(ref) + 1:]
        elif ident.endswith("-" + ref):
            ident = ident[: -len(ref) - 1]
        else:
            ident = ident.replace(f"-{ref}-", "-", 1)
    return ref, function + (f"[{ident}]" if ident else ""), function


def _doc(item: pytest.Item) -> str:
    """The first line of the test's docstring, else of its module's (what the check checks)."""
    for owner in (getattr(item, "obj", None), getattr(item, "module", None)):
        doc = (getattr(owner, "__doc__", None) or "").strip()
        if doc:
            return " ".join(doc.split("\n\n")[0].split())
    return ""


class ReportFeed:
    """Registered in every process that runs checks when --signoff-report is given."""

    def __init__(self, config: pytest.Config, state: Any) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        ref, check, function = check_name(item)
        report.imagecheck = {"image": ref, "check": check, "function": function, "doc": _doc(item),
                             "worker": worker_id(self.config), "requirement": requirement_of(call.excinfo)}
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """On an xdist worker: hand each image's description (taken when its checks ended,
        by the image fixture) to the controller."""
        if hasattr(self.config, "workeroutput"):
            self.config.workeroutput[WORKEROUTPUT_KEY] = dict(self.state.descriptions)
