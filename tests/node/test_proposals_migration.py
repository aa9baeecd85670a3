"""Migration 0012 keeps the poll votes stored before it, on both backends."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from storage.database import Database
from storage.migrate import _alembic_config, migrate
from storage.tables import ballots, proposals


async def test_0012_keeps_earlier_votes_and_takes_graded_ballots(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config(sync), "0011")
            )
        async with db.transaction() as conn:
            await conn.execute(
                proposals.insert().values(
                    seq=1, title="Q ?", text="", settings={"rule": "consent"},
                    electorate={"https://a.test/u/1": ""}, state="open",
                    opens_at=0.0, closes_at=1.0,
                )
            )  # fmt: skip
            await conn.execute(
                ballots.insert().values(
                    proposal_seq=1, voter="https://a.test/u/1", choice="object",
                    note_id="", cast_at=0.5,
                )
            )  # fmt: skip

        await migrate(db)

        async with db.transaction() as conn:
            # A reasoned objection after a poll vote "object", and a graded
            # ballot: neither fitted the old (proposal, voter, choice) key.
            await conn.execute(
                ballots.insert().values(
                    proposal_seq=1, voter="https://a.test/u/1", choice="object",
                    reason="trop cher", cast_at=0.6, dedupe_key="note:x",
                )
            )  # fmt: skip
            await conn.execute(
                ballots.insert().values(
                    proposal_seq=1, voter="https://a.test/u/2", choice=None,
                    grades={"A": "good"}, cast_at=0.7, dedupe_key="note:y",
                )
            )  # fmt: skip
        async with db.read() as conn:
            rows = (await conn.execute(select(ballots).order_by(ballots.c.seq))).all()
            proposal = (await conn.execute(select(proposals))).one()
        assert [(r.choice, r.reason, r.dedupe_key) for r in rows] == [
            ("object", "", "vote:object"),
            ("object", "trop cher", "note:x"),
            (None, "", "note:y"),
        ]
        assert rows[2].grades == {"A": "good"}
        assert (proposal.outcome, proposal.charter_text) == (None, None)
    finally:
        await db.close()
