"""The assistant reaches checkout only over HTTP: no module of it imports checkout."""

from __future__ import annotations

import ast
from pathlib import Path

import assistant

PACKAGE = Path(assistant.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_assistant_module_imports_checkout_or_the_merchant_adapters() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(
            name
            for name in imported_modules(path)
            if name.split(".")[0] in ("checkout", "merchant_adapters")
        )
        for path in PACKAGE.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_sees_every_module_of_the_package() -> None:
    scanned = {p.name for p in PACKAGE.rglob("*.py")}
    assert {"service.py", "client.py", "purchase.py", "env.py"} <= scanned
