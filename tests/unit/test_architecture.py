"""Seams between areas, read from the source: what README's layout promises.

- An area never imports another area's store (SQL): it calls that area's service, or
  reacts to its event. Importing the store's dataclasses (types like `User`) is fine.
- core/ is plumbing: it imports no area.
"""

from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
AREAS = sorted(p.name for p in CHALICELIB.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in a file; names empty for `import x.y`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def _other_areas_store_uses(area: str) -> list[str]:
    problems = []
    for path in sorted((CHALICELIB / area).glob("*.py")):
        for module, names in _imports(path):
            for other in AREAS:
                if other == area:
                    continue
                store = f"chalicelib.{other}.store"
                if module == store and any(not n[:1].isupper() for n in names):
                    problems.append(f"{path.name}: from {store} import {', '.join(names)}")
                elif module == store and not names:
                    problems.append(f"{path.name}: import {store}")
                elif module == f"chalicelib.{other}" and "store" in names:
                    problems.append(f"{path.name}: from chalicelib.{other} import store")
    return problems


def test_no_area_reads_another_areas_store() -> None:
    problems = {area: found for area in AREAS if (found := _other_areas_store_uses(area))}
    assert problems == {}, "call the other area's service instead of its store"


def test_the_rule_above_sees_a_store_import(tmp_path: Path) -> None:
    # admin once read accounts.store directly; the check must notice that shape of import.
    sample = tmp_path / "sample.py"
    sample.write_text("from chalicelib.accounts import store as accounts_store\n")
    assert _imports(sample) == [("chalicelib.accounts", ["store"])]


def test_core_imports_no_area() -> None:
    areas = [a for a in AREAS if a != "core"]
    offending = [
        f"{path.name}: {module}"
        for path in sorted((CHALICELIB / "core").glob("*.py"))
        for module, _ in _imports(path)
        if any(module == f"chalicelib.{a}" or module.startswith(f"chalicelib.{a}.") for a in areas)
    ]
    assert offending == []
