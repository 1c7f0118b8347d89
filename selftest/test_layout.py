"""The layers keep their boundaries, read from the imports themselves: rules/ is pure
judgment (neither docker nor pytest, nor any layer that talks to them), and runtime/ runs
containers without pytest or images.yaml (it may use rules/, the pure bottom layer). Imports under `if TYPE_CHECKING:` are for type
checkers only and do not count."""
import ast
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "imagecheck"
# layer -> top-level modules and imagecheck packages it must not import
FORBIDDEN = {
    "rules": {"docker", "pytest", "_pytest", "requests", "testinfra", "xdist",
              "imagecheck.runtime", "imagecheck.image", "imagecheck.pytest_plugin", "imagecheck.signoff"},
    "runtime": {"pytest", "_pytest", "xdist", "imagecheck.config", "imagecheck.image", "imagecheck.pytest_plugin",
                "imagecheck.signoff"},
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or \
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def imports_of(path: Path) -> set[str]:
    """Every module a file of the package imports, outside TYPE_CHECKING blocks."""
    return imports_in(path.read_text(), _module_name(path).rsplit(".", 1)[0])


def imports_in(source: str, package: str) -> set[str]:
    """Every module the source of a module in `package` imports (relative imports
    resolved), outside TYPE_CHECKING blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def crossings(layer: str) -> list[str]:
    """'file: module' for every forbidden import of a layer."""
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in sorted(imports_of(path)):
            if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_keeps_its_boundary(layer):
    assert (PACKAGE / layer).is_dir() and list((PACKAGE / layer).glob("*.py")), f"imagecheck/{layer}/ is gone"
    bad = crossings(layer)
    assert not bad, f"imagecheck/{layer}/ imports what its layer must not:\n  " + "\n  ".join(bad)


def test_the_reader_resolves_relative_imports_and_leaves_out_type_checking_ones():
    source = ("import json\nfrom ..config import DdpSpec\nfrom . import versions\nfrom typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from ..runtime.gpu import GpuAccess\nelse:\n    import docker\n"
              "def f():\n    import pytest\n")
    seen = imports_in(source, "imagecheck.rules")
    assert {"json", "imagecheck.config", "imagecheck.rules.versions", "docker", "pytest"} <= seen
    assert not any(name.startswith("imagecheck.runtime") for name in seen)
