"""``marketmaestro.testing.install``: wheels packed back from installed distributions, and the errors that
name what cannot be installed. ``fresh_environment`` itself runs in the plugins' install tests."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as metadata
import io
import zipfile
from pathlib import Path

import pytest

from marketmaestro.testing.install import InstallError, repack, wheelhouse


def test_a_repacked_wheel_holds_the_installed_files_and_a_true_record(tmp_path: Path) -> None:
    distribution = metadata.distribution("pluggy")
    wheel = repack(distribution, tmp_path)
    assert wheel.name.startswith(f"pluggy-{distribution.version}-") and wheel.suffix == ".whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(archive.read(record_name).decode())))
        assert {row[0] for row in rows} == names, "RECORD lists every file of the wheel, no other"
        for name, digest, size in rows:
            if name == record_name:
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data))
    installed = {str(f) for f in distribution.files or [] if not str(f).startswith("..")}
    packed = {n for n in names if "__pycache__" not in n}
    assert "pluggy/__init__.py" in packed
    assert packed - {record_name} <= installed, "nothing but the installed files"
    assert not any(n.endswith(("/INSTALLER", "/direct_url.json", "/REQUESTED")) for n in names)


def test_a_requirement_that_is_not_installed_is_named(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="no-such-dist-3c1f>=1 is needed but not installed"):
        wheelhouse(["no-such-dist-3c1f>=1"])


def test_an_editable_install_is_refused_with_what_to_do_instead(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="marketmaestro-bybit is installed in editable mode here"):
        repack(metadata.distribution("marketmaestro-bybit"), tmp_path)
