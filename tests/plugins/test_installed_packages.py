"""Plugins tested as they ship: real packages built and pip-installed, seen by the real ``mm``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import clean_environ, mm_command

GOOD = "mmtest-good"
BROKEN = "mmtest-broken"
GOOD_SOURCE = """\
from marketmaestro import hookimpl


@hookimpl
def register_indicators(register):
    register("mmtest_double", lambda xs: [2 * x for x in xs])
"""
BROKEN_SOURCE = "import mmtest_dependency_that_is_missing\n"


def _package(root: Path, dist: str, module: str, entry: str, body: str) -> Path:
    folder = root / dist
    (folder / module).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "1.2.3"
dependencies = ["marketmaestro"]

[tool.setuptools]
packages = ["{module}"]

[project.entry-points.marketmaestro]
{entry} = "{module}"
"""
    )
    (folder / module / "__init__.py").write_text(body)
    return folder


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


def _mm(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mm_command(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def test_pip_installed_plugins_are_listed_and_a_broken_one_does_not_stop_the_others(tmp_path: Path) -> None:
    good = _package(tmp_path, GOOD, "mmtest_good", "goodplugin", GOOD_SOURCE)
    broken = _package(tmp_path, BROKEN, "mmtest_broken", "brokenplugin", BROKEN_SOURCE)
    installed = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(good), str(broken))
    assert installed.returncode == 0, installed.stderr
    try:
        env = clean_environ()
        listed = _mm(tmp_path, env, "plugins", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = {row["name"]: row for row in json.loads(listed.stdout)}
        assert rows["goodplugin"]["status"] == "ok"
        assert rows["goodplugin"]["distribution"] == GOOD and rows["goodplugin"]["version"] == "1.2.3"
        assert rows["goodplugin"]["hooks"] == ["register_indicators"]
        assert rows["goodplugin"]["source"] == "entry point"
        assert rows["brokenplugin"]["status"] == "error"
        assert "mmtest_dependency_that_is_missing" in rows["brokenplugin"]["error"]
        assert rows["indicators"]["status"] == "ok", "the other plugins still load"
        assert all(row["source"] != "builtin" for row in rows.values()), "built-ins only with --all"

        everything = _mm(tmp_path, env, "plugins", "list", "--json", "--all")
        names = {row["name"]: row["source"] for row in json.loads(everything.stdout)}
        assert names["paper_exchange"] == names["risk_rules"] == names["web"] == "builtin"

        table = _mm(tmp_path, env, "plugins", "list")
        assert table.returncode == 0 and "goodplugin" in table.stdout and "error" in table.stdout

        only_good = _mm(tmp_path, {**env, "MM_LOAD_PLUGINS": "goodplugin"}, "plugins", "list", "--json")
        assert [row["name"] for row in json.loads(only_good.stdout)] == ["goodplugin"]
    finally:
        _pip("uninstall", "-y", GOOD, BROKEN)
