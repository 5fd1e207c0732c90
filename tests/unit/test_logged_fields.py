"""Every `extra=` field logged anywhere in the packages is on the allow-list (a field that is
not is silently dropped by the formatter, so operators never see it)."""

from __future__ import annotations

import ast
from pathlib import Path

from app.logs import ALLOWED_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "ingestion", "retrieval", "serving")


def logged_fields(tree: ast.AST) -> set[str]:
    """String keys of the dicts given as `extra=` to a call, or assigned to a name `extra`."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            roots += [k.value for k in node.keywords if k.arg == "extra"]
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "extra" for t in node.targets
        ):
            roots.append(node.value)
    return {
        key.value
        for root in roots
        for node in ast.walk(root)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


def test_every_logged_field_is_allowed() -> None:
    unlisted = {
        f"{path.relative_to(ROOT)}: {field}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for field in logged_fields(ast.parse(path.read_text(), str(path)))
        if field not in ALLOWED_FIELDS
    }
    assert not unlisted, sorted(unlisted)


def test_the_walk_finds_fields() -> None:
    tree = ast.parse('log.info("x", extra={"job_id": 1, **extra, "pid": 2})\nextra = {"a": 1}')
    assert logged_fields(tree) == {"job_id", "pid", "a"}
