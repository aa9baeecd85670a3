"""The decision log as published: verifiable by anyone, tampering detected."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import update

from storage.tables import decision_entries
from tests.federation.harness import running_nodes
from tests.processes import run_cli


async def test_published_log_verifies_and_tampering_is_caught(tmp_path: Path) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        log = node.node.decisions
        for n in range(5):
            await log.append(
                "federation.follow.accept",
                f"https://peer{n}.example/actors/node",
                {"actor": node.actor()},
            )
        url = f"{node.origin}/log"
        ok = await asyncio.to_thread(run_cli, "verify-log", url, "--allow-private")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("OK: 5 entries") and "latest covers 5" in ok.stdout

        # Someone with database access rewrites a decision after the fact.
        async with node.node.db.transaction() as conn:
            row = (
                await conn.execute(
                    decision_entries.select().where(decision_entries.c.idx == 2)
                )
            ).first()
            assert row is not None
            forged = {**row.document, "subject": "https://attacker.example/actors/x"}
            await conn.execute(
                update(decision_entries)
                .where(decision_entries.c.idx == 2)
                .values(document=forged)
            )
        bad = await asyncio.to_thread(run_cli, "verify-log", url, "--allow-private")
        assert bad.returncode == 1
        assert "PROBLEM entry 2: hash-mismatch" in bad.stderr
