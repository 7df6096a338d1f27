"""A fresh virtual environment holding exactly some projects and their dependencies, made offline.

A plugin's "installs and works alone" test needs an environment with the core and that one plugin, put there
by pip as a user would. Downloading every dependency from the package index for that is slow and needs the
network; :func:`fresh_environment` gets the same environment from what the running interpreter already has:

1. each project (a source folder with a ``pyproject.toml``) is copied and built into a wheel with ``pip
   wheel --no-deps --no-build-isolation`` (its build backend must be installed here);
2. each dependency it needs, followed recursively through the installed distributions' metadata, is packed
   back into a wheel from its installed files (the ``RECORD`` of its ``.dist-info``), so the wheelhouse
   holds exactly the versions this environment runs;
3. a new virtual environment (without pip of its own) gets the projects installed by this interpreter's pip
   (``pip --python``) with ``--no-index --find-links`` the wheelhouse: pip resolves the projects'
   requirements as always, and fails if one of them cannot be met, but never touches the network.

The repacked wheels are built once per process and dependency and reused (``wheelhouse``). Console scripts
come from the projects' and dependencies' entry points, as with any wheel install.

::

    python = fresh_environment(tmp_path / "venv", [repo_root, repo_root / "plugins" / "exchange_bybit"])
    mm = python.with_name("mm")
"""

from __future__ import annotations

import atexit
import base64
import csv
import hashlib
import importlib.metadata as metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["InstallError", "fresh_environment", "repack", "wheelhouse"]

SKIPPED_SOURCES = shutil.ignore_patterns(
    "__pycache__", "*.egg-info", "build", "dist", "tests", ".venv", ".git"
)
"""Not copied out of a project's folder: build leftovers and its test suite."""
DIST_INFO_DROPPED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
"""Files an installer writes into a ``.dist-info``, not part of the wheel (``RECORD`` is written anew)."""

_packed: dict[str, Path] = {}


class InstallError(Exception):
    """A build or install step failed; the message carries the command and the end of its output."""


def fresh_environment(target: Path, projects: Sequence[Path], *, timeout: float = 300) -> Path:
    """A virtual environment at ``target`` with ``projects`` (source folders) and their dependencies
    installed; its Python. The wheels are built beside it, in ``<target>-wheels``. Raises ``InstallError``."""
    target.mkdir(parents=True, exist_ok=True)
    wheels = target.parent / f"{target.name}-wheels"
    wheels.mkdir(exist_ok=True)
    names = []
    for project in projects:
        source = wheels / f"src-{project.resolve().name}"
        shutil.copytree(project, source, ignore=SKIPPED_SOURCES, dirs_exist_ok=True)
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
              "--wheel-dir", wheels, source], timeout)  # fmt: skip
        names.append(_project_name(project))
    house = wheelhouse(_requirements(projects), exclude=names)
    _run([sys.executable, "-m", "venv", "--without-pip", target], timeout)
    python = target / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-index",
          "--find-links", wheels, "--find-links", house, *names], timeout)  # fmt: skip
    return python


def wheelhouse(requirements: Iterable[str], *, exclude: Iterable[str] = ()) -> Path:
    """A folder of wheels of the installed distributions that ``requirements`` need, recursively (extras and
    environment markers as in this interpreter); distributions named in ``exclude`` are left out."""
    skip = {canonicalize_name(name) for name in exclude}
    house = _house()
    todo = [Requirement(text) for text in requirements]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or name in skip:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise InstallError(f"{requirement} is needed but not installed in {sys.prefix}") from None
        if name not in _packed:
            _packed[name] = repack(distribution, house)
        for text in distribution.requires or []:
            needed = Requirement(text)
            extras = requirement.extras or {""}
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(needed)
    return house


def repack(distribution: metadata.Distribution, folder: Path) -> Path:
    """A wheel of an installed ``distribution`` from the files its ``RECORD`` lists (those inside the
    site-packages folder; scripts are made again from its entry points on install), written to ``folder``."""
    info = Path(str(distribution.locate_file(""))).resolve()
    origin = json.loads(distribution.read_text("direct_url.json") or "{}")
    if origin.get("dir_info", {}).get("editable"):
        raise InstallError(
            f"{distribution.name} is installed in editable mode here; a wheel of it cannot be packed from "
            "its installed files: name its source folder among the projects instead"
        )
    files = [
        f for f in distribution.files or [] if not str(f).startswith("..") and "__pycache__" not in f.parts
    ]
    dist_info = next((f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), None)
    if dist_info is None:
        raise InstallError(f"{distribution.name} has no .dist-info in its RECORD; it cannot be repacked")
    wheel_meta = (info / dist_info / "WHEEL").read_text()
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    if not tags:
        raise InstallError(f"{distribution.name}: its WHEEL file names no tag")
    python_tags, abi_tags, platform_tags = ([t.split("-")[i] for t in tags] for i in range(3))
    name = re.sub(r"[-_.]+", "_", distribution.name)
    tag = "-".join(".".join(dict.fromkeys(part)) for part in (python_tags, abi_tags, platform_tags))
    path = folder / f"{name}-{distribution.version}-{tag}.whl"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as wheel:
        for file in files:
            if file.parts[0] == dist_info and file.name in DIST_INFO_DROPPED:
                continue
            data = (info / file).read_bytes()
            wheel.writestr(str(file), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            writer.writerow([str(file), f"sha256={digest}", len(data)])
        writer.writerow([f"{dist_info}/RECORD", "", ""])
        wheel.writestr(f"{dist_info}/RECORD", record.getvalue())
    return path


def _house() -> Path:
    """This process's wheelhouse, removed when the process exits."""
    folder = Path(tempfile.gettempdir()) / f"marketmaestro-wheelhouse-{os.getpid()}"
    if not folder.is_dir():
        folder.mkdir()
        _packed.clear()
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _project(project: Path) -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    return table


def _project_name(project: Path) -> str:
    return str(_project(project)["name"])


def _requirements(projects: Iterable[Path]) -> list[str]:
    found: list[str] = []
    for project in projects:
        found.extend(str(text) for text in _project(project).get("dependencies") or [])
    return found


def _run(command: Sequence[str | Path], timeout: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "PIP_"))}
    done = subprocess.run(
        [str(c) for c in command], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise InstallError(
            f"{' '.join(str(c) for c in command)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
