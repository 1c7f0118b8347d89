"""Read observed values out of the facts probe's JSON, in one place."""
from __future__ import annotations


def installed_version(facts: dict, package: str) -> str | None:
    """The version the image reports for a package: 'python', or a distribution name.

    For torch, torchvision and torchaudio the module's own __version__ wins (it carries the
    CUDA local part, '2.6.0+cu124'); else the installed distribution's metadata, so a
    package that fails to import still shows what is installed.
    """
    stack = facts.get("stack", {})
    if package == "python":
        return stack.get("python", {}).get("version")
    imported = stack.get("imports", {}).get(package, {})
    if imported.get("ok") and imported.get("version"):
        return imported["version"]
    return stack.get("distributions", {}).get(package.lower().replace("_", "-"))


def import_result(facts: dict, module: str) -> dict:
    """{'ok': bool, 'version', 'seconds', 'error', 'traceback_tail'} of one import."""
    return facts.get("stack", {}).get("imports", {}).get(module) or {
        "ok": False, "error": f"the facts probe did not try to import {module}", "traceback_tail": []}


def import_failure(result: dict) -> str:
    """A readable account of a failed import: the error and the traceback's last lines."""
    tail = "\n    ".join(result.get("traceback_tail") or [])
    return f"{result.get('error')}" + (f"\n    {tail}" if tail else "")
