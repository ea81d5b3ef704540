"""The code stays as `make check` wants it (ruff, mypy --strict, the import-linter layers) and
within the size limits of docs/architecture.md, so CI holds it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

BIN = Path(sys.executable).parent
# docs/architecture.md: one idea per module, classes small enough to read in one sitting.
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 250
PACKAGES = ("archiver", "spiders", "pipelines")


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
        ["lint-imports", "--no-cache"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict", "import-layers"],
)
def test_code_is_clean(command: list[str]) -> None:
    tool = BIN / command[0]
    if not tool.exists():
        pytest.fail(f"{command[0]} is not installed in the project's virtualenv (make install)")
    proc = subprocess.run(
        [str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_sources_are_found() -> None:
    # The size checks below pass vacuously if they read nothing.
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"archiver/cli.py", "spiders/news.py", "archiver/index/archive.py"} <= names


def test_no_module_passes_the_size_limit() -> None:
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in _sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {long}"


def test_no_class_passes_the_size_limit() -> None:
    long = {}
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = lines
    assert not long, f"classes over {MAX_CLASS_LINES} lines: {long}"


def test_import_layers_contract_fails_on_a_wrong_way_import(tmp_path: Path) -> None:
    """The layers contract is live: a lower layer importing a higher one breaks it."""
    tool = BIN / "lint-imports"
    if not tool.exists():
        pytest.fail("lint-imports is not installed in the project's virtualenv (make install)")
    # A copy of the packages with one wrong-way import added: warc importing the crawler.
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    wrong = tmp_path / "archiver" / "warc" / "chunked.py"
    wrong.write_text(wrong.read_text(encoding="utf-8") + "\nimport archiver.crawler.runtime\n")
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    proc = subprocess.run(
        [str(tool), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(BIN)},
    )
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "archiver.warc.chunked -> archiver.crawler.runtime" in proc.stdout, proc.stdout[-2000:]
