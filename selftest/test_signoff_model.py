"""The sign-off model without Docker: a check record built once from its phases (status,
the missing requirement, required or advisory), report.json read and written back
unchanged, and every check's status in the JUnit properties."""
from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

from imagecheck.pytest_plugin.outcomes import NOT_APPLICABLE
from imagecheck.signoff import junit, records
from imagecheck.signoff.model import SCHEMA, SignOff

NEEDS_TWO = {"kind": "gpus", "wanted": 2, "granted": 1}


def phases(outcome: str, crash: str = "", requirement: dict | None = None, when: str = "call") -> list:
    """setup passed, then the phase that decides (call, or setup for a skip in a fixture), then teardown."""
    meta = {"image": "img:1", "check": "test_x[a]", "function": "test_x", "doc": "", "worker": None}
    evidence = [("torch.version", "2.6.0"), ("seen", '{"a": 1}')] if when == "call" else []
    out = [records.Phase("setup", "passed" if when == "call" else outcome, crash=crash if when == "setup" else "",
                         meta={**meta, "requirement": requirement if when == "setup" else None})]
    if when == "call":
        out.append(records.Phase("call", outcome, crash=crash, meta={**meta, "requirement": requirement},
                                 properties=evidence))
    # each phase's report carries every property recorded so far (pytest's item.user_properties)
    out.append(records.Phase("teardown", "passed", meta={**meta, "requirement": None}, properties=evidence))
    return out


def test_each_record_says_one_of_four_statuses():
    built = {name: records.build("tests/t.py::test_x[img:1-a]", made) for name, made in {
        "passed": phases("passed"),
        "failed": phases("failed", "assert 1 == 2"),
        "not applicable": phases("skipped", NOT_APPLICABLE + "images.yaml promises no ports"),
        "could not run": phases("skipped", "needs 2 GPU(s), this host grants 1", NEEDS_TWO, when="setup"),
        "skip without data": phases("skipped", "no CVE scanner on PATH"),
        "failed for the host": phases("failed", "needs 2 GPU(s)\n  (--require-gpu makes that a failure)", NEEDS_TWO),
    }.items()}
    assert {name: r.status for name, r in built.items()} == {
        "passed": "passed", "failed": "failed", "not applicable": "not_applicable", "could not run": "could_not_run",
        "skip without data": "could_not_run", "failed for the host": "failed"}
    assert built["could not run"].requirement == NEEDS_TWO and built["could not run"].phase == "setup"
    assert built["failed for the host"].requirement == NEEDS_TWO
    assert built["skip without data"].requirement is None and built["not applicable"].requirement is None
    assert built["passed"].evidence == {"torch.version": "2.6.0", "seen": {"a": 1}}
    assert (built["passed"].check, built["passed"].function, built["passed"].image) == ("test_x[a]", "test_x", "img:1")


def test_required_is_decided_when_the_record_is_built():
    assert records.build("t::x", phases("failed", "x"), advisory=["test_x"]).required is False
    assert records.build("t::x", phases("failed", "x"), advisory=["test_x[a]"]).required is False
    assert records.build("t::x", phases("failed", "x"), advisory=["test_x[b]", "test_y"]).required is True


TODAY = {  # a report.json as the suite wrote it before the model was explicit (one image, one check)
    "schema": SCHEMA, "tool": {"name": "imagecheck", "version": "0.1.0"}, "generated": "2026-01-01T00:00:00+00:00",
    "summary": {"verdict": "SIGNED OFF", "images": 1, "signed_off": 1, "blocked": 0},
    "run": {"args": ["--image", "img:1"], "started": "s", "finished": "f", "duration_s": 3.0, "exitstatus": 0,
            "require_gpu": False, "mode": "development", "workers": 0, "incomplete": [], "collection_errors": [],
            "images_file": "images.yaml"},
    "host": {"hostname": "h", "gpus": [], "docker": {"version": "27.1.1"}},
    "baseline": None,
    "images": [{
        "ref": "img:1", "listed": True, "description": "d", "promised": {"torch": "2.6.0"},
        "policy": {"required": [], "advisory": [], "max_perf_drop": 0.2},
        "image": {"id": "sha256:1", "repo_digests": [], "size_bytes": 5, "created": "c", "architecture": "amd64",
                  "os": "linux", "user": "", "entrypoint": None, "cmd": ["bash"], "labels": {"a": "b"}},
        "versions": {"torch": "2.6.0"}, "inside": {"cuda_available": False, "devices": [], "arch_list": []},
        "session": {"containers_started": 1, "torch_imports": 1},
        "checks": [{"check": "test_v[torch]", "function": "test_v", "nodeid": "tests/t.py::test_v[img:1-torch]",
                    "module": "tests/t.py", "doc": "", "image": "img:1", "worker": None, "outcome": "passed",
                    "phase": None, "message": "", "details": "", "sections": [], "duration_s": 0.1,
                    "evidence": {"torch.version": "2.6.0"}, "required": True}],
        "counts": {"passed": 1, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0},
        "perf": {"perf.compile.m.speedup_x": {"value": 1.5, "unit": "x", "direction": "higher",
                                              "subject": "compile.m", "measure": "speedup", "check": "test_v[torch]"}},
        "baseline_ref": None,
        "regressions": [{"kind": "version", "name": "torch", "baseline": "2.5.0", "current": "2.6.0",
                         "change": "upgrade", "blocks": False, "summary": "torch 2.5.0 -> 2.6.0 (upgrade)",
                         "effect": "informs"}],
        "verdict": "SIGNED OFF", "reasons": [], "notes": [], "skips": []}],
    "suite_checks": [],
}


def contains(written, today, where="report") -> list[str]:
    """Where `written` lacks or changes a key or value of `today` (added keys are fine)."""
    if isinstance(today, dict):
        if not isinstance(written, dict):
            return [f"{where}: {written!r} instead of {today!r}"]
        return [d for key, value in today.items() for d in
                (contains(written[key], value, f"{where}.{key}") if key in written else [f"{where}.{key}: missing"])]
    if isinstance(today, list) and isinstance(written, list) and len(today) == len(written):
        return [d for n, (w, t) in enumerate(zip(written, today)) for d in contains(w, t, f"{where}[{n}]")]
    return [] if written == today else [f"{where}: {written!r} instead of {today!r}"]


def test_report_json_keeps_every_key_and_value_and_reads_back_unchanged():
    written = SignOff.from_json(copy.deepcopy(TODAY)).to_json()
    assert contains(written, TODAY) == []
    check = written["images"][0]["checks"][0]
    assert (check["status"], check["requirement"]) == ("passed", None)  # added keys
    assert written["images"][0]["judged"] == "sha256:1"
    again = SignOff.from_json(json.loads(json.dumps(written))).to_json()
    assert again == written


def test_a_newer_writers_keys_survive_a_read():
    newer = copy.deepcopy(TODAY)
    newer["images"][0]["pulled"] = {"policy": "missing"}
    newer["images"][0]["image"]["platform_digest"] = "sha256:9"
    written = SignOff.from_json(newer).to_json()
    assert written["images"][0]["pulled"] == {"policy": "missing"}
    assert written["images"][0]["image"]["platform_digest"] == "sha256:9"


def test_junit_says_every_checks_status_and_what_the_host_lacked():
    report = SignOff.from_json(copy.deepcopy(TODAY))
    report.images[0].checks.append(records.build("tests/t.py::test_ddp[img:1]",
                                                 phases("skipped", "needs 2 GPU(s)", NEEDS_TWO)))
    suite = dict(junit.suite_properties(report))
    assert suite["imagecheck.img:1.status.test_v[torch]"] == "passed"
    assert suite["imagecheck.img:1.status.test_x[a]"] == "could_not_run"
    assert json.loads(suite["imagecheck.img:1.requirement.test_x[a]"]) == NEEDS_TWO
    root = ET.fromstring(junit.render(report))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    ddp = cases["test_ddp[img:1]"]
    props = {p.get("name"): p.get("value") for p in ddp.iter("property")}
    assert props["imagecheck.status"] == "could_not_run" and json.loads(props["imagecheck.requirement"]) == NEEDS_TWO
    assert ddp.find("skipped") is not None and cases["test_v[img:1-torch]"].find("skipped") is None
