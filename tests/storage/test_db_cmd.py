"""``mm db`` on a real SQLite file.

The commands only need ``state.config().database.path`` from the CLI state, so most tests pass a
small object with that shape instead of loading a settings file; the last one goes through ``mm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from marketmaestro.cli.db_cmd import db
from marketmaestro.cli.main import main
from marketmaestro.storage import current, head


@dataclass
class DatabaseSection:
    path: Path


@dataclass
class Config:
    database: DatabaseSection


@dataclass
class State:
    db_path: Path

    def config(self) -> Config:
        return Config(DatabaseSection(self.db_path))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "mm.db"


def mm_db(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(db, list(args), obj=State(db_path))


def test_upgrade_defaults_to_head_and_reports_the_change(db_path: Path) -> None:
    result = mm_db(db_path, "upgrade")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"database {db_path}: revision none -> {head()}\n"
    assert current(db_path) == head()
    again = mm_db(db_path, "upgrade", "head")
    assert again.stdout == f"database {db_path} is at revision {head()}; nothing to do\n"


def test_current_prints_the_revision_or_none(db_path: Path) -> None:
    assert mm_db(db_path, "current").stdout == "none\n"
    assert not db_path.exists()
    mm_db(db_path, "upgrade")
    assert mm_db(db_path, "current").stdout == f"{head()}\n"


def test_downgrade_to_base(db_path: Path) -> None:
    mm_db(db_path, "upgrade")
    result = mm_db(db_path, "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"database {db_path}: revision {head()} -> none\n"
    assert current(db_path) is None


def test_downgrade_needs_a_revision(db_path: Path) -> None:
    result = mm_db(db_path, "downgrade")
    assert result.exit_code == 2
    assert "Missing argument 'REVISION'" in result.stderr


@pytest.mark.parametrize("args", [("upgrade", "nope"), ("downgrade", "nope")])
def test_an_unknown_revision_is_one_line_on_stderr(db_path: Path, args: tuple[str, ...]) -> None:
    result = mm_db(db_path, *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {db_path}: Can't locate revision identified by 'nope'\n"


def test_a_file_that_is_not_a_database_is_one_line_on_stderr(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"not a database " * 100)
    for command in ("current", "upgrade"):
        result = mm_db(db_path, command)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("Error: cannot read the database")
        assert "file is not a database" in result.stderr


def test_mm_db_reads_the_database_path_from_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("database:\n  path: data/mm.db\n")
    db_path = tmp_path / "data" / "mm.db"  # relative paths are relative to the settings file
    result = CliRunner().invoke(main, ["--config", str(settings), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"database {db_path}: revision none -> {head()}\n"
    assert current(db_path) == head()
