"""The examples of docs/rebalancing.md and of the "Runtime settings" section of docs/configuration.md run
as written: the configuration through a real bot, the curl commands with the real curl against its API,
and the example script on a paper account."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import trio
import yaml

from marketmaestro.storage import AsyncStore
from tests.conftest import REPO, STRATEGIES
from tests.rebalance.conftest import paper, rebalancing
from tests.runtime.conftest import load, running_bot

DOCS = REPO / "docs"


def blocks(page: str, heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of the section ``## heading`` of ``docs/<page>``."""
    section = (DOCS / page).read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in section.split(f"```{language}\n")[1:]]


async def curl(script: str, url: str, folder: Path) -> str:
    """Run a documented shell block with bash in ``folder``, against the bot at ``url``."""
    script = script.replace("http://127.0.0.1:8080", url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MM_")}
    done = await trio.run_process(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_stdout=True,
        capture_stderr=True,
    )
    return done.stdout.decode()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the documented commands use curl")
async def test_the_enabling_example_and_the_curl_commands_run(tmp_path: Path) -> None:
    [example] = blocks("rebalancing.md", "Enabling a script", "yaml")
    settings = yaml.safe_load(example)
    settings.update(database={"path": "bot.db"}, api={"host": "127.0.0.1", "port": 0})
    # The curl examples change simple_sma's settings too.
    [btc] = [pair for pair in settings["exchanges"]["paper"]["pairs"] if pair["symbol"] == "BTCUSDT"]
    btc["strategies"] = [{"name": "simple_sma", "file": str(STRATEGIES / "simple_sma.star")}]
    (tmp_path / "rebalance").mkdir()
    shutil.copy(REPO / "rebalance" / "equal_weight.star", tmp_path / "rebalance")
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    config, host = load(tmp_path / "settings.yaml")
    [entry] = config.rebalance.scripts
    assert config.rebalance.file(entry) == tmp_path / "rebalance" / "equal_weight.star"

    [listing] = blocks("configuration.md", "Runtime settings", "sh")
    [changes] = blocks("rebalancing.md", "Changing settings at runtime", "sh")
    with trio.fail_after(60):
        async with running_bot(config, host) as bot:
            [url] = bot.api_urls
            listed = await curl(listing, url, tmp_path)
            assert '"component": "rebalance:equal_weight", "key": "drift_threshold", "value": 0.1' in listed
            assert (
                '"component": "strategy:simple_sma:BTCUSDT", "key": "position_size", "value": 0.02' in listed
            )
            output = await curl(changes, url, tmp_path)
            assert '"status": "traded"' in output, output
            assert await bot.store.settings("paper/rebalance:equal_weight") == {
                "drift_threshold": 0.1,
                "target": {"BTC": 0.5, "USDT": 0.5},
            }
            orders = await bot.store.list_orders(
                exchange="paper", strategy="rebalance:equal_weight", limit=10
            )
            assert [(o.symbol, o.status.value) for o in orders] == [("BTCUSDT", "filled")]


async def test_the_example_script_trades_to_its_target(store: AsyncStore, tmp_path: Path) -> None:
    [source] = blocks("rebalancing.md", "Writing a script", "python")
    file = tmp_path / "btc_heavy.star"
    file.write_text(source)
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), file=file) as r:
            report = await r.run()
            assert report["status"] == "traded", report
            assert [(o["symbol"], o["side"], o["status"]) for o in report["orders"]] == [
                ("BTCUSDT", "buy", "filled")
            ]
            await r.stack.settle()
            assert abs((await r.run())["weights"]["BTC"] - 0.6) < 0.01
            assert (await r.status())["settings"]["interval"] == "4h"
