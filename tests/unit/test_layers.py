"""The package's layers, read from the source: no module imports a layer above its own.

The folder tree is the architecture (docs/architecture.md); this keeps it true. A module may
import its own layer and the ones below, never upward; only `settings` of the top-level modules is
importable from a subpackage. Imports inside functions count too (a lazy import is still a
dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "include" / "event_export"
# lowest first; a subpackage or top-level module -> its layer
LAYERS = {
    "settings": 0,
    "config": 0,
    "scheduling": 1,
    "pipeline": 2,
    "formats": 2,
    "destinations": 2,
    "alerts": 3,
    "orchestration": 4,
    "ui": 5,
}
TOP = 6  # cli, demo, generator, standins: entry points


def layer(module: str) -> int:
    """The layer of a dotted module below event_export (`pipeline.run`, `cli`)."""
    return LAYERS.get(module.split(".")[0], TOP)


def imports_of(path: Path) -> list[str]:
    """Every event_export module `path` imports, relative to the package (`config.model`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            package = path.relative_to(PACKAGE).parent.parts
            base = package[: len(package) - node.level + 1]
            found.append(".".join([*base, *(node.module or "").split(".")]).strip("."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("event_export"):
            rest = node.module.removeprefix("event_export").lstrip(".")
            if rest:
                found.append(rest)
            else:  # from event_export import x, y
                found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(
                a.name.removeprefix("event_export.")
                for a in node.names
                if a.name.startswith("event_export.")
            )
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_imports_a_layer_above_its_own(path):
    own = layer(_name(path))
    upward = [m for m in imports_of(path) if layer(m) > own]
    assert upward == [], f"{_name(path)} (layer {own}) imports upward: {upward}"


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The rule can fail: a scheduling module importing the pipeline is caught, in each form."""
    fake = tmp_path / "event_export"
    (fake / "scheduling").mkdir(parents=True)
    bad = fake / "scheduling" / "bad.py"
    bad.write_text(
        "from event_export.pipeline import naming\n"
        "from ..ui import exports_page\n"
        "def f():\n    import event_export.orchestration.factory\n"
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    found = imports_of(bad)
    assert found == ["pipeline", "ui", "orchestration.factory"]
    assert [layer(m) > layer("scheduling.bad") for m in found] == [True, True, True]


def test_every_subpackage_has_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= set(LAYERS), folders - set(LAYERS)
