"""Meta-tests that keep the documentation honest.

- every hook in ``marketmaestro.hookspecs`` has a docstring, a ``### name`` section in
  docs/writing-a-plugin.md with its exact signature, and a test that mentions it; every hook section
  of that page is a real hook;
- every relative link in the docs and the README points at a file that exists (and, into a Markdown
  file, at a heading that exists);
- the example plugin ``examples/mm-hello`` works as the walk-through says, installed with pip and run
  through the real ``mm``.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from marketmaestro import PROJECT_NAME, hookspecs
from marketmaestro.plugins import registry
from tests.conftest import clean_environ, mm_command, paper_settings

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DOC = REPO / "docs" / "writing-a-plugin.md"
EXAMPLE = REPO / "examples" / "mm-hello"
HOOKS_SECTION = "Hooks"
SPEC_MARK = f"{PROJECT_NAME}_spec"
"""pluggy marks each hook specification with this attribute."""
GREETING = "Hello from mm-hello!"
DEADLINE = 60.0

HOOKS: dict[str, Callable[..., Any]] = {
    name: function
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, SPEC_MARK)
}


# --- reading Markdown ---------------------------------------------------------------------------------


def outside_code(text: str) -> Iterator[tuple[str, bool]]:
    """Each line of ``text`` with whether it is inside a fenced code block (fence lines count as inside)."""
    fence: str | None = None
    for line in text.splitlines():
        marker = re.match(r"\s*(```+|~~~+)", line)
        if fence is None and marker:
            fence = marker.group(1)[:3]
            yield line, True
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            yield line, True
        else:
            yield line, False


def sections(text: str, level: int) -> list[tuple[str, str]]:
    """``(heading, body)`` for each heading of exactly ``level`` outside code blocks, in order."""
    found: list[tuple[str, list[str]]] = []
    prefix = "#" * level + " "
    for line, in_code in outside_code(text):
        heading = re.match(r"(#+) ", line) if not in_code else None
        if heading and len(heading.group(1)) <= level:
            if line.startswith(prefix):
                found.append((line[len(prefix) :].strip(), []))
                continue
            found.append(("", []))  # a higher-level heading ends the section
        if found:
            found[-1][1].append(line)
    return [(title, "\n".join(body)) for title, body in found if title]


def python_code_lines(text: str) -> list[str]:
    """The lines of the ```python blocks of ``text``."""
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [line for block in blocks for line in block.splitlines()]


def hook_sections() -> list[tuple[str, str]]:
    """The ``### name`` sections inside the ``## Hooks`` section of docs/writing-a-plugin.md."""
    text = PLUGIN_DOC.read_text(encoding="utf-8")
    bodies = [body for title, body in sections(text, 2) if title == HOOKS_SECTION]
    assert len(bodies) == 1, f"{PLUGIN_DOC.name} must have exactly one '## {HOOKS_SECTION}' section"
    return sections(bodies[0], 3)


def render_signature(name: str, function: Callable[..., Any], *, skip_first: bool = False) -> str:
    """``name(arg: Type, *, kw: Type = default) -> Return`` as written in the source.

    With ``from __future__ import annotations`` every annotation is the string written in the source.
    """
    signature = inspect.signature(function)
    parts: list[str] = []
    star_written = False
    for parameter in list(signature.parameters.values())[1 if skip_first else 0 :]:
        if parameter.kind is parameter.KEYWORD_ONLY and not star_written:
            parts.append("*")
        star_written = star_written or parameter.kind in (parameter.KEYWORD_ONLY, parameter.VAR_POSITIONAL)
        text = parameter.name
        if parameter.kind is parameter.VAR_POSITIONAL:
            text = "*" + text
        elif parameter.kind is parameter.VAR_KEYWORD:
            text = "**" + text
        if parameter.annotation is not parameter.empty:
            text += f": {_annotation(parameter.annotation)}"
        if parameter.default is not parameter.empty:
            text += f" = {parameter.default!r}"
        parts.append(text)
    returns = signature.return_annotation
    arrow = "" if returns is signature.empty else f" -> {_annotation(returns)}"
    return f"{name}({', '.join(parts)}){arrow}"


def _annotation(value: object) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


# --- hooks --------------------------------------------------------------------------------------------


def test_hookspecs_are_found_by_their_pluggy_mark() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    assert set(HOOKS) == {name for name in vars(manager.hook) if not name.startswith("_")}


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_documented_with_its_exact_signature(name: str) -> None:
    documented = [body for title, body in hook_sections() if title == name]
    assert len(documented) == 1, f"expected one '### {name}' section under '## {HOOKS_SECTION}'"
    expected = "def " + render_signature(name, HOOKS[name])
    assert expected in python_code_lines(documented[0]), (
        f"the '### {name}' section needs the line `{expected}` in a ```python block"
    )


def test_every_hook_section_is_a_real_hook() -> None:
    titles = [title for title, _ in hook_sections()]
    assert titles, f"no '### hook' sections under '## {HOOKS_SECTION}'"
    assert sorted(set(titles) - set(HOOKS)) == [], "documented hooks that hookspecs.py does not define"
    assert len(titles) == len(set(titles)), "a hook is documented twice"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_docstring(name: str) -> None:
    assert (inspect.getdoc(HOOKS[name]) or "").strip(), f"hookspecs.{name} has no docstring"


def test_every_register_callback_is_documented_with_its_signature() -> None:
    lines = python_code_lines(PLUGIN_DOC.read_text(encoding="utf-8"))
    protocols = {
        str(parameter.annotation)
        for hook in HOOKS.values()
        for parameter in inspect.signature(hook).parameters.values()
        if hasattr(registry, str(parameter.annotation))
    }
    assert protocols >= {"RegisterExchange", "RegisterIndicator"}, protocols
    for protocol in sorted(protocols):
        expected = render_signature("register", getattr(registry, protocol).__call__, skip_first=True)
        assert expected in lines, f"{PLUGIN_DOC.name} needs `{expected}` ({protocol}) in a ```python block"


def _test_files() -> list[Path]:
    ours = Path(__file__).parent
    files = [p for p in (REPO / "tests").rglob("*.py") if ours not in p.parents]
    return files + sorted(REPO.glob("plugins/*/tests/**/*.py"))


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_exercised_by_a_test(name: str) -> None:
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    users = [p for p in _test_files() if pattern.search(p.read_text(encoding="utf-8"))]
    assert users, f"no test under tests/ or plugins/*/tests/ (besides tests/docs/) mentions the hook {name}"


# --- links --------------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MARKDOWN_FILES = sorted([*(REPO / "docs").rglob("*.md"), *[p for p in [REPO / "README.md"] if p.exists()]])


def links(path: Path) -> list[str]:
    """Link targets of a Markdown file, leaving out code blocks and inline code."""
    prose = "\n".join(line for line, in_code in outside_code(path.read_text(encoding="utf-8")) if not in_code)
    prose = re.sub(r"(`+).*?\1", "", prose, flags=re.S)
    return LINK.findall(prose) + REFERENCE.findall(prose)


def relative_targets(path: Path) -> Iterator[tuple[str, Path, str]]:
    """``(link, file it points at, fragment)`` for each relative link of ``path``."""
    for link in links(path):
        if SCHEME.match(link) or link.startswith("//"):
            continue
        target, _, fragment = link.partition("#")
        target = urllib.parse.unquote(target.partition("?")[0])
        if not target:
            yield link, path, fragment  # a heading of this same file
            continue
        base = REPO if target.startswith("/") else path.parent
        yield link, (base / target.lstrip("/")).resolve(), fragment


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of the headings of a Markdown file: lower case, punctuation dropped, spaces as ``-``.

    A repeated heading gets ``-1``, ``-2``... appended, as on GitHub.
    """
    seen: dict[str, int] = {}
    found = set()
    for line, in_code in outside_code(path.read_text(encoding="utf-8")):
        heading = re.match(r"#{1,6} +(.*?) *#* *$", line) if not in_code else None
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_there_are_markdown_files_to_check() -> None:
    names = {p.relative_to(REPO).as_posix() for p in MARKDOWN_FILES}
    assert {"docs/getting-started.md", "docs/writing-a-plugin.md", "docs/cli.md"} <= names


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_point_at_existing_files(path: Path) -> None:
    broken = [link for link, target, _ in relative_targets(path) if not target.exists()]
    assert broken == [], f"{path.relative_to(REPO)} links to files that do not exist"


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_links_into_markdown_files_name_existing_headings(path: Path) -> None:
    broken = [
        link
        for link, target, fragment in relative_targets(path)
        if fragment and target.suffix == ".md" and target.is_file() and fragment not in anchors(target)
    ]
    assert broken == [], f"{path.relative_to(REPO)} links to headings that do not exist"


# --- the example plugin -------------------------------------------------------------------------------


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


def _mm(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # clean_environ drops every MM_ variable of the caller's shell, MM_LOAD_PLUGINS included.
    return subprocess.run(
        [*mm_command(), *args], capture_output=True, text=True, cwd=cwd, env=clean_environ(**env), timeout=120
    )


@pytest.fixture(scope="module")
def hello_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """mm-hello installed as the walk-through installs it; yields an empty folder to run ``mm`` in."""
    try:
        importlib.metadata.distribution("mm-hello")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        pytest.skip("mm-hello is already installed here (the walk-through?): `pip uninstall mm-hello` first")
    # A copy, so building leaves no build/ or egg-info folder in the repository.
    source = tmp_path_factory.mktemp("source") / "mm-hello"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    try:
        installed = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(source))
        assert installed.returncode == 0, installed.stderr
        yield tmp_path_factory.mktemp("run")
    finally:
        _pip("uninstall", "-y", "mm-hello")


def test_mm_plugins_list_shows_mm_hello(hello_folder: Path) -> None:
    listed = _mm("plugins", "list", "--json", cwd=hello_folder)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["hello"]["status"] == "ok", rows["hello"]
    assert (rows["hello"]["distribution"], rows["hello"]["version"]) == ("mm-hello", "0.1.0")
    assert rows["hello"]["source"] == "entry point"
    assert rows["hello"]["hooks"] == ["on_order_filled", "register_commands", "register_indicators"]


def test_mm_hello_greets_and_counts_the_indicators(hello_folder: Path) -> None:
    hello = _mm("hello", cwd=hello_folder)
    assert hello.returncode == 0, hello.stderr
    match = re.fullmatch(rf"{re.escape(GREETING)} (\d+) indicators registered: (.*)\n", hello.stdout)
    assert match, hello.stdout
    names = match.group(2).split(", ")
    assert "midpoint" in names and int(match.group(1)) == len(names)
    assert "hello" in _mm("--help", cwd=hello_folder).stdout


def test_mm_hello_is_gone_when_the_plugin_is_not_loaded(hello_folder: Path) -> None:
    hello = _mm("hello", cwd=hello_folder, MM_LOAD_PLUGINS="indicators")
    assert hello.returncode == 2
    assert "No such command 'hello'" in hello.stderr


MIDPOINT_STRATEGY = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    bars = history(3)
    mid = midpoint(bars["high"], bars["low"])[-1]
    if position()["quantity"] == 0:
        return {"action": "buy", "quantity": 0.001, "reason": "midpoint %s" % mid}
    return {"action": "close", "reason": "midpoint %s" % mid}
"""


def _fill_ids(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return {row[0] for row in conn.execute("select fill_id from fills")}
    except sqlite3.OperationalError:
        return set()  # not created or migrated yet


def test_mm_hello_logs_fills_and_strategies_can_call_midpoint(hello_folder: Path, tmp_path: Path) -> None:
    strategy = tmp_path / "midpoint.star"
    strategy.write_text(MIDPOINT_STRATEGY)
    paper_settings(tmp_path, strategy=strategy)
    db, log, output = tmp_path / "bot.db", tmp_path / "logs" / "bot.log", tmp_path / "output.txt"
    with output.open("w") as err:
        bot = subprocess.Popen(
            [*mm_command(), "run"], cwd=tmp_path, env=clean_environ(), stdout=err, stderr=err
        )
        try:
            end = time.monotonic() + DEADLINE
            while len(_fill_ids(db)) < 2 and time.monotonic() < end and bot.poll() is None:
                time.sleep(0.2)
            bot.send_signal(signal.SIGINT)
            assert bot.wait(timeout=30) == 0, output.read_text()
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
    stored = _fill_ids(db)
    assert len(stored) >= 2, output.read_text()
    messages = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    logged = [m for m in messages if m.get("message_type") == "hello.fill"]
    assert logged, "on_order_filled logged nothing"
    assert {m["fill_id"] for m in logged} <= stored
    assert all(m["symbol"] == "BTCUSDT" and m["order_status"] == "filled" for m in logged)
    reasons = [m["reason"] for m in messages if m.get("message_type") == "strategy.signal"]
    assert reasons and all(re.fullmatch(r"midpoint \d+(\.\d+)?", r) for r in reasons), reasons
