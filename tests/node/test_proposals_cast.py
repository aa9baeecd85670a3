"""The one entry point for ballots, college weights, and a charter adopted by vote."""

from __future__ import annotations

import asyncio
import hashlib
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from node.proposals import ProposalError
from protocol.tally import verify_tally
from storage.tables import decision_entries
from tests.federation.harness import RunningNode, running_nodes
from tests.node.test_proposals import admit
from tests.processes import run_cli


def local(node: RunningNode, name: str) -> str:
    """An account of the node itself (one that votes from the node's pages)."""
    return f"{node.origin}/actors/{name}"


async def entry(node: RunningNode, index: int) -> dict[str, Any]:
    async with node.node.db.read() as conn:
        document: dict[str, Any] = (
            await conn.execute(
                select(decision_entries.c.document).where(
                    decision_entries.c.idx == index
                )
            )
        ).scalar_one()
    return document


async def test_cast_says_why_a_ballot_does_not_count(
    tmp_path: Path, database_url: str
) -> None:
    # On both backends: JSON grades, the dedupe key, the duplicate checks.
    async with running_nodes(tmp_path, 1, lambda _: database_url) as (node,):
        alice, bob = local(node, "alice"), local(node, "bob")
        await admit(node, alice)
        await admit(node, bob)
        proposals = node.node.proposals
        seq = await proposals.open(
            "Quelle fête de quartier ?", "", rule="judgment",
            options=["Bal", "Brocante"],
        )  # fmt: skip
        cast = proposals.cast

        refusals = [
            (local(node, "eve"), {"Bal": "good"}, "not in this proposal's electorate"),
            (alice, {"Cinéma": "good"}, "unknown option 'Cinéma'"),
            (alice, {"Bal": "great"}, "unknown grade 'great'"),
        ]
        for voter, judgments, reason in refusals:
            with pytest.raises(ProposalError, match=re.escape(reason)):
                await cast(seq, voter, judgments=judgments)
        with pytest.raises(ProposalError, match="voted by grading each option"):
            await cast(seq, alice, choice="Bal")

        # Refused ballots did not use up alice's vote; case does not matter.
        await cast(seq, alice, judgments={"bal": "VERY GOOD"})
        await cast(seq, alice, judgments={"bal": "VERY GOOD"})  # the same again
        with pytest.raises(ProposalError, match="you already voted"):
            await cast(seq, alice, judgments={"Bal": "poor"})

        live = await proposals.live(seq)
        assert live["voters"] == 1 and live["electorate"] == 2
        assert live["distribution"]["Bal"]["very good"] == 1
        assert live["distribution"]["Brocante"]["reject"] == 1  # not judged
        assert live["majority_grades"] == {"Bal": "very good", "Brocante": "reject"}

        listed = await proposals.list()
        assert [(p["seq"], p["rule"], p["state"]) for p in listed] == [
            (seq, "judgment", "open")
        ]
        assert listed[0]["closes_at"] == live["closes_at"]

        document = await proposals.close(seq)
        # Every ballot alice sent is published, each refusal with its reason;
        # eve's (outside the electorate) and the repeated one are not kept.
        assert [b["voter"] for b in document["ballots"]] == [alice] * 5
        assert [r["reason"] for r in document["result"]["refused"]] == [
            "unknown-option", "malformed", "malformed", "duplicate",
        ]  # fmt: skip
        with pytest.raises(ProposalError, match="this proposal is closed"):
            await cast(seq, bob, judgments={"Bal": "good"})
        with pytest.raises(ProposalError, match="no proposal 99"):
            await cast(99, bob, choice="yes")

        newer = await proposals.open("Et un pique-nique ?", "", rule="consent")
        assert [p["seq"] for p in await proposals.list()] == [newer, seq]
        for blank in ("", "  "):
            with pytest.raises(ProposalError, match="an objection needs a reason"):
                await cast(newer, bob, choice="object", reason=blank)
        with pytest.raises(ProposalError, match="unknown option 'yes'"):
            await cast(newer, bob, choice="yes")
        await cast(newer, bob, choice="Object", reason=" trop tôt ")
        live = await proposals.live(newer)
        assert live["objections"] == [{"voter": bob, "reason": "trop tôt"}]


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"rule": "judgment"}, "at least 1 option"),
        ({"rule": "judgment", "options": ["A", "a"]}, "must differ"),
        ({"rule": "judgment", "options": ["A"], "grades": ["ok"]}, "2 grades"),
        ({"rule": "judgment", "options": ["A"], "grades": ["a:b", "c"]}, "colon"),
        ({"options": ["A"]}, "for the judgment rule"),
        ({"weights": {"companies": Fraction(0)}}, "more than 0"),
        ({"quorum": Fraction(3, 2)}, "quorum must be between 0 and 1"),
        (
            {"rule": "judgment", "options": ["A"], "charter_text": "Art. 1"},
            "a charter is adopted by a yes/no or consent rule",
        ),
        ({"rule": "sortition"}, "rule must be one of"),
        ({"closes_in": 0.0}, "voting must last some time"),
        ({"charter_text": "\n  \n"}, "the charter text is empty"),
    ],
)
async def test_open_refuses_what_cannot_be_tallied(
    tmp_path: Path, arguments: dict[str, Any], reason: str
) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        with pytest.raises(ProposalError, match=reason):
            await node.node.proposals.open("Titre ?", "", **arguments)
        assert await node.node.proposals.list() == []


async def test_college_weights_are_tallied_published_and_verified(
    tmp_path: Path, database_url: str
) -> None:
    async with running_nodes(tmp_path, 1, lambda _: database_url) as (node,):
        resident = local(node, "resident")
        companies = [local(node, "garage"), local(node, "boulangerie")]
        await admit(node, resident, "residents")
        for company in companies:
            await admit(node, company, "companies")
        proposals = node.node.proposals
        seq = await proposals.open(
            "Une zone de rencontre rue Haute ?", "",
            weights={"companies": Fraction(1, 3)},
        )  # fmt: skip
        assert "companies 1/3" in (await proposals.document(seq))["content"]
        await proposals.cast(seq, resident, choice="yes")
        for company in companies:
            await proposals.cast(seq, company, choice="no")

        live = await proposals.live(seq)
        assert live["weights"] == {"companies": "1/3"}
        assert live["counts"] == {"yes": 1, "no": 2, "abstain": 0}
        assert live["weighted"] == {"yes": "1/1", "no": "2/3", "abstain": "0/1"}

        # One resident outweighs two companies.
        document = await proposals.close(seq)
        assert document["electorate"]["weights"] == {"companies": "1/3"}
        assert document["result"]["eligibleWeight"] == "5/3"
        assert document["result"]["outcome"] == "adopted"
        assert verify_tally(document).ok
        url = f"{node.origin}/proposals/{seq}/tally"
        checked = await asyncio.to_thread(
            run_cli, "verify-tally", url, "--allow-private"
        )
        assert checked.returncode == 0, checked.stderr

        # The weights are part of what is verified.
        forged = {
            **document,
            "electorate": {**document["electorate"], "weights": {}},
        }
        fields = {m.field for m in verify_tally(forged).mismatches}
        assert {"inputsHash", "result.outcome"} <= fields


CHARTER = (
    "Article 1. Les membres partagent leurs données.\n\n"
    "Article 2. Une voix par membre, pondérée par collège."
)


async def test_a_charter_adopted_by_a_proposal_points_at_its_close(
    tmp_path: Path,
) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        alice = local(node, "alice")
        await admit(node, alice)
        proposals, charter = node.node.proposals, node.node.charter
        seq = await proposals.open(
            "Adopter la charte ?", "Proposée par le bureau.",
            charter_text=CHARTER, charter_title="Charte du bocage",
        )  # fmt: skip
        digest = hashlib.sha256(CHARTER.encode()).hexdigest()
        assert digest in (await proposals.document(seq))["content"]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{proposals.iri(seq)}/charter") as got,
        ):
            assert await got.text() == CHARTER

        await proposals.cast(seq, alice, choice="yes")
        await proposals.close(seq)

        live = await proposals.live(seq)
        version = await charter.latest()
        assert version is not None
        assert (version["version"], version["title"]) == (1, "Charte du bocage")
        assert version["text"] == CHARTER
        assert live["charter"]["version"] == 1
        # The chain: charter version → its charter.adopt entry → the close.
        adopt = await entry(node, version["decision"])
        assert adopt["kind"] == "charter.adopt"
        assert adopt["body"]["proposal"] == proposals.iri(seq)
        assert adopt["body"]["proposalDecision"] == live["decision"]
        assert adopt["body"]["sha256"] == digest
        close = await entry(node, live["decision"])
        assert close["kind"] == "proposal.close"
        assert close["body"]["outcome"] == "adopted"
        assert close["body"]["charterSha256"] == digest

        # Rejected: no new version.
        again = await proposals.open(
            "Remplacer la charte ?", "", charter_text="Article unique."
        )
        await proposals.cast(again, alice, choice="no")
        await proposals.close(again)
        assert (await charter.latest() or {})["version"] == 1
        assert (await proposals.live(again))["charter"]["version"] is None


async def test_the_close_job_finishes_an_interrupted_adoption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_nodes(tmp_path, 1) as (node,):
        proposals = node.node.proposals
        # Consent with no objection: adopted.
        seq = await proposals.open(
            "Adopter la charte ?", "", rule="consent", charter_text=CHARTER
        )

        async def crash(_seq: int) -> None:
            raise RuntimeError("the process died here")

        with monkeypatch.context() as patched:
            patched.setattr(proposals, "_adopt_charter", crash)
            with pytest.raises(RuntimeError):
                await proposals.close(seq)
        assert await node.node.charter.latest() is None

        # The close job (queued when the proposal opened) runs it again.
        job: Any = type("J", (), {"payload": {"proposal": seq}})()
        await proposals.close_job(job)
        await proposals.close_job(job)  # and only once
        latest = await node.node.charter.latest()
        assert latest is not None and latest["version"] == 1
        assert (await proposals.live(seq))["charter"]["version"] == 1


async def test_two_closes_at_once_record_one_outcome(tmp_path: Path) -> None:
    """The close job and `bocage proposal close` may race: one outcome, one entry."""
    async with running_nodes(tmp_path, 1) as (node,):
        proposals = node.node.proposals
        seq = await proposals.open("Une question", "Un texte.")
        outcomes = await asyncio.gather(
            proposals.close(seq), proposals.close(seq), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, ProposalError)]
        assert len(refused) == 1, outcomes
        async with node.node.db.read() as conn:
            kinds = [
                doc["kind"]
                for doc in (
                    await conn.execute(select(decision_entries.c.document))
                ).scalars()
            ]
        assert kinds.count("proposal.close") == 1
        assert (await proposals.live(seq))["decision"] is not None
