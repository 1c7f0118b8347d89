"""The image's installed distributions have no broken requirements."""
import pytest

from imagecheck.check import could_not_run, fail

pytestmark = pytest.mark.facts


def test_pip_check_is_clean(image, facts, evidence):
    check = facts.pip_check
    if "error" in check and "available" not in check:
        fail(f"pip check could not run in {image.ref}: {check['error']}")
    if not check["available"]:
        could_not_run(f"{image.ref} ships no pip, so `pip check` cannot run ({check.get('output', '')[:200]})",
                      {"kind": "pip_in_image"})
    evidence("pip_check.problems", check["problems"])
    assert check["exit_code"] == 0 and not check["problems"], (
        f"`pip check` in {image.ref} reports {len(check['problems'])} broken requirement(s):\n  "
        + "\n  ".join(check["problems"] or [check.get("output", "")]))
