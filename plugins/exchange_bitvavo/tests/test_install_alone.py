"""The plugin as it ships: a fresh virtual environment with the core (non-editable) and only this plugin,
installed by pip from the registry; ``mm`` lists it, and it works: ``mm data download`` pages Bitvavo candles
from the fake server (started with that environment's Python, as the plugin ships it)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

PLUGIN = Path(__file__).resolve().parents[1]
REPO = PLUGIN.parents[1]
BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable))
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "tests", ".venv")


def run(*command: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "VIRTUAL_ENV", "PYTHONPATH"))}
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


def test_pip_installed_alone_it_is_listed_and_downloads_from_the_fake(tmp_path: Path) -> None:
    # Copies, so pip builds outside the shared working tree.
    core, plugin = tmp_path / "core-src", tmp_path / "plugin-src"
    core.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, core / name)
    shutil.copytree(REPO / "core", core / "core", ignore=IGNORE)
    shutil.copytree(PLUGIN, plugin, ignore=IGNORE)
    venv = tmp_path / "venv"
    run(BASE_PYTHON, "-m", "venv", venv, cwd=tmp_path)
    python, mm = venv / "bin" / "python", venv / "bin" / "mm"
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", cwd=tmp_path)
    run(python, "-m", "pip", "install", "--quiet", core, cwd=tmp_path)
    run(python, "-m", "pip", "install", "--quiet", plugin, cwd=tmp_path)

    rows = json.loads(run(mm, "plugins", "list", "--json", cwd=tmp_path).stdout)
    assert [(r["name"], r["distribution"], r["status"], r["hooks"]) for r in rows] == [
        ("bitvavo", "marketmaestro-bitvavo", "ok", ["register_exchanges"])
    ], "only this plugin is installed, and it loads"

    errors = (tmp_path / "fake-stderr.txt").open("w")
    fake = subprocess.Popen(
        [
            python,
            "-m",
            "marketmaestro_bitvavo.testing",
            "--port",
            "0",
            "--price",
            "BTC-EUR=30000",
            "--history",
            "90",
        ],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        assert fake.stdout is not None
        line = fake.stdout.readline()
        assert line, (tmp_path / "fake-stderr.txt").read_text()
        urls = json.loads(line)
        options = {"rest_url": urls["rest_url"], "ws_url": urls["ws_url"]}
        (tmp_path / "settings.yaml").write_text(
            yaml.safe_dump({"exchanges": {"bitvavo": {"options": options, "pairs": [{"symbol": "BTCEUR"}]}}})
        )
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M")
        download = ["data", "download", "--exchange", "bitvavo", "--symbol", "BTCEUR", "--interval", "1m"]
        run(mm, *download, "--since", since, "--page-size", "25", cwd=tmp_path, timeout=120)
        listed = run(mm, "data", "list", cwd=tmp_path).stdout
        assert "bitvavo" in listed and "BTCEUR" in listed and "1m" in listed, listed
    finally:
        fake.send_signal(signal.SIGINT)
        fake.wait(timeout=10)
        if fake.stdout is not None:
            fake.stdout.close()
        errors.close()
