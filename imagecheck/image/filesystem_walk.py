"""The filesystem facts of an image: one walk as root (fixtures/probes/filesystem.py), run
once per image and session and shared by the filesystem and secret checks.

The walk visits every file (names and modes: setuid/setgid, broken symlinks in library
folders, credential files by name); it reads the contents of small text files only under
the folders where people put configuration and work (CONTENT_ROOTS), and leaves out
installed packages (SKIP_CONTENT), whose test fixtures and documentation carry example
keys that are no image's secret.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..rules import secrets

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

CONTENT_ROOTS = ["/etc", "/root", "/home", "/workspace", "/opt", "/srv", "/app", "/usr/local/etc",
                 "/usr/local/bin", "/tmp", "/var/tmp"]
SKIP_CONTENT = [r"/(site|dist)-packages/", r"/share/jupyter/", r"/node_modules/", r"^/etc/ssl/certs/",
                r"/include/", r"/share/(doc|man|locale)/"]
MAX_FILE_BYTES = 256 * 1024
ROOT = "0"


def probe_arguments() -> str:
    """The walk's JSON argument: the credential patterns, the placeholder rule and the
    limits, all from the suite (secrets.py), so the probe holds no copy of them."""
    return json.dumps({"patterns": [list(p) for p in secrets.PATTERNS], "shown_prefix": secrets.SHOWN_PREFIX,
                       "placeholders": {"words": sorted(secrets.PLACEHOLDERS),
                                        "prefixes": list(secrets.PLACEHOLDER_PREFIXES),
                                        "chars": secrets.PLACEHOLDER_CHARS},
                       "content_roots": CONTENT_ROOTS, "skip_content": SKIP_CONTENT,
                       "max_file_bytes": MAX_FILE_BYTES})


def start(image: "ImageUnderTest") -> None:
    """Start the walk (once per image and session, as root in the shared container)."""
    image.start_probe("filesystem", "filesystem", probe_arguments(), user=ROOT)


def facts(image: "ImageUnderTest") -> dict:
    """The walk's findings for this image; ImagecheckError when the walk failed."""
    start(image)
    return image.probe_result("filesystem").data
