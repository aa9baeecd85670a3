"""``bocage proposal``: open (a charter, a judgment, weights), list, show, close."""

from __future__ import annotations

import asyncio
from pathlib import Path

from node.config import load_config
from node.services import open_node
from tests.processes import run_cli


async def test_proposal_commands(tmp_path: Path) -> None:
    assert run_cli("init", "a.test", "--dir", str(tmp_path)).returncode == 0
    config = str(tmp_path / "bocage.toml")
    charter = tmp_path / "charte.txt"
    charter.write_text("Article 1. Tout se décide ensemble.\n", encoding="utf-8")

    def bocage(*args: str) -> str:
        result = run_cli(*args, "-c", config)
        assert result.returncode == 0, result.stderr
        return result.stdout

    opened = await asyncio.to_thread(
        bocage, "proposal", "open", "--title", "Adopter la charte ?",
        "--rule", "consent", "--charter", str(charter),
        "--charter-title", "Charte",
    )  # fmt: skip
    assert "Proposal 1 open: https://a.test/proposals/1" in opened
    judged = await asyncio.to_thread(
        bocage, "proposal", "open", "--title", "Quel arbre ?", "--rule", "judgment",
        "--option", "Chêne", "--option", "Tilleul", "--grade", "oui",
        "--grade", "non", "--weight", "habitants=2", "--weight", "entreprises=1/2",
    )  # fmt: skip
    assert "Proposal 2 open" in judged

    listed = (await asyncio.to_thread(bocage, "proposal", "list")).splitlines()
    assert [line.split("\t")[:3] for line in listed] == [
        ["2", "open", "judgment"],
        ["1", "open", "consent"],
    ]
    shown = await asyncio.to_thread(bocage, "proposal", "show", "2")
    assert "Quel arbre ? (judgment, open)" in shown
    assert "Chêne: majority grade" not in shown  # nobody voted yet
    assert "0 of 0 voters" in shown

    # Nobody objected: adopted, and the text is the charter now.
    closed = await asyncio.to_thread(bocage, "proposal", "close", "1")
    assert "Proposal 1: adopted." in closed
    async with open_node(load_config(tmp_path / "bocage.toml")) as node:
        latest = await node.charter.latest()
        live = await node.proposals.live(2)
    assert latest is not None
    assert (latest["title"], latest["text"]) == (
        "Charte",
        "Article 1. Tout se décide ensemble.\n",
    )
    assert live["grades"] == ["oui", "non"]
    assert live["weights"] == {"habitants": "2/1", "entreprises": "1/2"}

    bad = await asyncio.to_thread(
        run_cli, "proposal", "open", "-c", config, "--title", "X ?",
        "--weight", "habitants=beaucoup",
    )  # fmt: skip
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "bocage: error: --weight 'habitants=beaucoup': write COLLEGE=1/2"
    ]
