"""`imagecheck [PYTEST ARGS]`: the suite's checks, run from any folder.

Runs pytest on this project's tests/ folder with the project's pytest configuration
(pyproject.toml), both found beside the installed package, so a team validates an image
beside its Dockerfiles: `imagecheck --images-file images.yaml --image repo:tag`. Without
--images-file, images.yaml in the current folder is read when there is one, else the
project's. The exit status is pytest's.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import explain

PROJECT = Path(__file__).resolve().parent.parent
TESTS = PROJECT / "tests"
PYTEST_CONFIG = PROJECT / "pyproject.toml"
USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR


def pytest_arguments(args: list[str], folder: Path) -> list[str]:
    """pytest's arguments: the suite's checks and configuration, the images file of the
    folder when the arguments name none, then the user's arguments (they win)."""
    ours = [str(TESTS), "--rootdir", str(PROJECT), "-c", str(PYTEST_CONFIG)]
    named = any(arg == "--images-file" or arg.startswith("--images-file=") for arg in args)
    local = folder / "images.yaml"
    if not named and local.is_file():
        ours += ["--images-file", str(local)]
    return ours + list(args)


def main(argv: list[str] | None = None) -> int:
    """The console script: pytest on the suite's checks; its exit status."""
    args = sys.argv[1:] if argv is None else argv
    missing = [str(path) for path in (TESTS, PYTEST_CONFIG) if not path.exists()]
    if missing:
        print(explain("imagecheck: the suite's checks are not beside the installed package",
                      expected="the project's tests/ folder and pyproject.toml next to the imagecheck package",
                      observed=f"missing {', '.join(missing)}", where=str(PROJECT),
                      hint="install the project in place: pip install -e PROJECT_FOLDER"), file=sys.stderr)
        return USAGE_ERROR
    import pytest

    return int(pytest.main(pytest_arguments(args, Path.cwd())))


if __name__ == "__main__":
    sys.exit(main())
