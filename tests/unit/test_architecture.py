"""Layering rules of DESIGN.md, checked on the source so they cannot erode quietly."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(ROOT.glob("functions/*/app.py"))
ROUTES = sorted(ROOT.glob("layers/shared/customer_platform/**/routes.py"))
DRIVERS = {"boto3", "botocore", "pymysql"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_handlers_and_routes_to_check():
    assert HANDLERS
    assert ROUTES


@pytest.mark.parametrize("path", HANDLERS + ROUTES, ids=lambda p: str(p.relative_to(ROOT)))
def test_handlers_and_routes_never_talk_to_aws_or_sql_directly(path: Path):
    assert not imported_modules(path) & DRIVERS


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_handlers_stay_thin(path: Path):
    code_lines = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert len(code_lines) <= 90, "move rules into the shared package"


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_client_is_built_at_import_time(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = ast.unparse(node.value.func)
            assert not func.startswith(("boto3.", "aws.", "pymysql.")), func
