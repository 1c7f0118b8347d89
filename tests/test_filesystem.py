"""The image's filesystem: no setuid/setgid file outside images.yaml's allowlist, no
account with an empty or preset password, no broken symlink in a library folder."""
import pytest

from imagecheck.check import ImagecheckError, fail
from imagecheck.image import filesystem_walk
from imagecheck.rules import secrets

pytestmark = [pytest.mark.facts, pytest.mark.filesystem_walk]


@pytest.fixture
def scan(image) -> dict:
    """One walk over the image's filesystem, as root, shared by these checks."""
    try:
        return filesystem_walk.facts(image)
    except ImagecheckError as error:
        fail(str(error))


def test_no_setuid_or_setgid_files_outside_the_allowlist(image, scan, evidence):
    allowlist = image.spec.security.setuid_allowlist
    special = scan["setuid_setgid"]
    evidence("setuid_setgid", [f"{s['path']} {s['mode']}" for s in special])
    extra = [s for s in special if not secrets.allowed(s["path"], allowlist)]
    lines = [f"{s['path']} (mode {s['mode']}, owner uid {s['owner_uid']}"
             f"{', setuid' if s['setuid'] else ''}{', setgid' if s['setgid'] else ''})" for s in extra]
    assert not extra, (f"{image.ref} has setuid/setgid files that images.yaml (security.setuid_allowlist) does not "
                       "allow; each lets any user run it with its owner's rights:\n  " + "\n  ".join(lines)
                       + "\n  hint: chmod u-s,g-s them, or add them to the allowlist if they are wanted")


def test_no_account_has_an_empty_or_preset_password(image, scan, evidence):
    shadow = scan["shadow"]
    if not shadow["readable"]:
        fail(f"/etc/shadow of {image.ref} cannot be read as root: {shadow.get('error')}")
    accounts = shadow["accounts"]
    evidence("accounts", {a["name"]: a["state"] for a in accounts})
    bad = [f"{a['name']}: {'an empty password' if a['state'] == 'empty' else 'a password set at build'} "
           f"(in {a['source']})" for a in accounts if a["state"] in ("empty", "set")]
    assert not bad, (f"accounts of {image.ref} that can log in with a password everyone who pulls the image "
                     "knows or can crack:\n  " + "\n  ".join(bad)
                     + "\n  hint: lock them (passwd -l NAME, or useradd without --password)")


def test_no_broken_symlinks_in_library_folders(image, scan, evidence):
    broken = scan["broken_library_symlinks"]
    evidence("broken_library_symlinks", [f"{b['path']} -> {b['target']}" for b in broken])
    evidence("driver_symlinks", [f"{b['path']} -> {b['target']}" for b in scan["driver_symlinks"]])
    lines = [f"{b['path']} -> {b['target']} (missing)" for b in broken]
    assert not broken, (f"{image.ref} has symlinks in library folders that point nowhere:\n  " + "\n  ".join(lines[:40])
                        + "\n  hint: a package was removed or moved; the links left behind break loading")
