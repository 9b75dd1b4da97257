"""Data flows one way (README, Layout): no layer of vhdfix imports one above it, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

# Lowest first: remote (a blob read by URL, under the disk's image file) -> disk -> partitions -> NTFS -> windows
# (files, registry) -> fallback (the same Windows files through dissect.target) -> evidence -> diagnosis -> report
# (and the dissect plugin); repair continues with the plan, the writer (gates and patches), the copy and the
# verifier; the commands sit on top.
LAYERS = ["errors", "version", "speedups", "budget", "layout", "remote", "disk", "partitions", "ntfs", "fat",
          "registry", "windows", "fallback", "evidence", "diagnosis", "inspection", "dissect_plugin", "report", "plan",
          "writer", "copy", "verify", "repair", "commands", "cli", "__main__"]
API = "vhdfix"  # the package itself: the public API, bound to the top-level commands' logic


def layer_of(module: str) -> str:
    parts = module.removesuffix(".__init__").split(".")
    return parts[1] if len(parts) > 1 else API


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == API or name.startswith(API + ".")}


def test_every_module_belongs_to_a_known_layer() -> None:
    for path in (REPO / "vhdfix").rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        assert layer_of(module) in [*LAYERS, API], f"{module}: add its layer to LAYERS"


def test_no_layer_imports_one_above_it() -> None:
    upward = []
    for path in (REPO / "vhdfix").rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        own = layer_of(module)
        if own == API:
            continue
        for imported in imports_of(path):
            other = layer_of(imported)
            if other == API or LAYERS.index(other) > LAYERS.index(own):
                upward.append(f"{module} imports {imported}")
    assert upward == []
