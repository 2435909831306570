"""No package reaches into another package's private modules: what two packages share is
exported by the package that owns it (or sits behind a method). Modules at the top of
``lrlab`` (``lrlab._errors``, ``lrlab._io``, ``lrlab._testing``, ...) are shared by all."""

from __future__ import annotations

import ast
from pathlib import Path

import lrlab

SRC = Path(lrlab.__file__).parent


def _package(path: Path, root: Path) -> str | None:
    """The subpackage a module belongs to (``train`` for lrlab/train/_fit.py), or None."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def _reaches(module: str, names: list[str], home: str | None) -> str | None:
    """What in ``from module import names`` is private to a package other than ``home``."""
    parts = module.split(".")
    if parts[0] != "lrlab" or len(parts) < 2 or parts[1] == home or parts[1].startswith("_"):
        return None
    if len(parts) > 2 and any(p.startswith("_") for p in parts[2:]):
        return module
    private = [n for n in names if n.startswith("_")]
    return f"{module}: {', '.join(private)}" if private else None


def cross_package_private_imports(root: Path = SRC) -> list[str]:
    """``file:line module`` for every import of another package's private module or name."""
    found = []
    for path in sorted(root.rglob("*.py")):
        home = _package(path, root)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                hit = _reaches(node.module, [a.name for a in node.names], home)
            elif isinstance(node, ast.Import):
                hit = next(filter(None, (_reaches(a.name, [], home) for a in node.names)), None)
            else:
                continue
            if hit:
                found.append(f"{path.relative_to(root).as_posix()}:{node.lineno} {hit}")
    return found


def test_no_package_imports_another_packages_private_modules() -> None:
    assert cross_package_private_imports() == []


def test_the_scan_sees_a_private_import(tmp_path: Path) -> None:
    """The scan itself: a cross-package private module or name is found; the importing
    package's own private modules and lrlab's top-level ones are not."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "_x.py").write_text(
        "from lrlab.train._result import members_table\n"
        "import lrlab.search._fastest\n"
        "from lrlab.report import _fmt\n"
        "from lrlab.store._schema import connect\n"
        "from lrlab._errors import LrlabError\n"
        "from lrlab.train import fit\n")
    assert cross_package_private_imports(tmp_path) == [
        "store/_x.py:1 lrlab.train._result",
        "store/_x.py:2 lrlab.search._fastest",
        "store/_x.py:3 lrlab.report: _fmt",
    ]
