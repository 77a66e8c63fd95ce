"""Runtime code runs in Lambda, Glue and on a laptop: it never imports the Pulumi SDK."""

import ast
from pathlib import Path

import runtime

RUNTIME_DIR = Path(runtime.__file__).parent


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_no_runtime_module_imports_pulumi() -> None:
    offenders = {
        str(path.relative_to(RUNTIME_DIR)): sorted(
            m for m in imported_modules(path) if m.split(".")[0].startswith("pulumi")
        )
        for path in RUNTIME_DIR.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert len(offenders) > 30  # the scan saw the package
