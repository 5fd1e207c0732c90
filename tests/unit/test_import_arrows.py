"""The package arrows of ARCHITECTURE.md, checked on every import statement (lazy ones too):
`retrieval` and `serving` import nothing of ours, `ingestion` only `retrieval`, nothing imports
the CLI (`app.cli`), and only the CLI's `eval` command (`app.cli_eval`) reaches up into `evals`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("app", "ingestion", "retrieval", "serving", "evals")
MAY_IMPORT = {
    "retrieval": {"retrieval"},
    "serving": {"serving"},
    "ingestion": {"ingestion", "retrieval"},
    "app": {"app", "ingestion", "retrieval", "serving"},
    "evals": set(OURS),
}
EXCEPTIONS = {("app.cli_eval", "evals.run")}  # `enclave eval`, imported when the command runs


def imports_of(path: Path) -> set[str]:
    """The absolute module names `path` imports (`from a import b` counts as `a.b` and `a`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def within(target: str, module: str) -> bool:
    return target == module or target.startswith(f"{module}.")


def wrong_arrows() -> list[str]:
    wrong = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = module_name(path)
            for target in imports_of(path):
                top = target.split(".")[0]
                if top not in OURS or any(module == m and within(target, t) for m, t in EXCEPTIONS):
                    continue
                if top not in MAY_IMPORT[package]:
                    wrong.append(f"{module} -> {target}")
                elif within(target, "app.cli") and module != "app.cli":
                    wrong.append(f"{module} -> {target} (the CLI is not a library)")
    return wrong


def test_no_wrong_arrow() -> None:
    assert wrong_arrows() == []


def test_the_walk_sees_lazy_and_from_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from app.cli import cli\n    import serving.echo\n")
    assert {"app.cli", "app.cli.cli", "serving.echo"} <= imports_of(source)
