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
import weakref

from . import secrets
from .errors import ImagecheckError
from .session import ImageUnderTest

CONTENT_ROOTS = ["/etc", "/root", "/home", "/workspace", "/opt", "/srv", "/app", "/usr/local/etc",
                 "/usr/local/bin", "/tmp", "/var/tmp"]
SKIP_CONTENT = [r"/(site|dist)-packages/", r"/share/jupyter/", r"/node_modules/", r"^/etc/ssl/certs/",
                r"/include/", r"/share/(doc|man|locale)/"]
MAX_FILE_BYTES = 256 * 1024
ROOT = "0"

_CACHE: "weakref.WeakKeyDictionary[ImageUnderTest, dict | ImagecheckError]" = weakref.WeakKeyDictionary()


def probe_arguments() -> str:
    return json.dumps({"patterns": [list(p) for p in secrets.PATTERNS], "shown_prefix": secrets.SHOWN_PREFIX,
                       "content_roots": CONTENT_ROOTS, "skip_content": SKIP_CONTENT,
                       "max_file_bytes": MAX_FILE_BYTES})


def facts(image: ImageUnderTest) -> dict:
    """The walk's findings for this image (run once as root in the shared container)."""
    held = _CACHE.get(image)
    if isinstance(held, ImagecheckError):
        raise held
    if held is None:
        try:
            held = image.probe("filesystem", probe_arguments(), user=ROOT).data
        except ImagecheckError as error:
            _CACHE[image] = error
            raise
        _CACHE[image] = held
    return held
