"""Reports: a Mastodon-shaped Flag, a decision, an appeal heard by someone else,
and everyone concerned told by direct Notes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.moderation import (
    APPEAL_WITHIN,
    DECIDE_WITHIN,
    HEAR_WITHIN,
    ModerationError,
)
from tests.federation.fake_peer import FakeActor, FakePeer
from tests.federation.harness import RunningNode, eventually, running_nodes


async def test_flag_decision_appeal(tmp_path: Path) -> None:
    peer = FakePeer()
    reporter = peer.add("instance")
    member = peer.add("bob")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            moderation = node.node.moderation
            membership = node.node.membership
            # bob is a member (admitted after asking to join).
            await membership._save(member.id, "requested", f"{member.id}/join/1")
            await membership.admit(member.id, college="citizens")

            # A report as Mastodon sends it: from its instance actor, the
            # account and a status as object, the comment as content.
            flag = {
                "id": f"{reporter.id}/flags/1",
                "type": "Flag",
                "actor": reporter.id,
                "object": [member.id, f"{member.id}/statuses/9"],
                "content": "Spam répété dans les réponses",
            }
            inbox = f"{node.origin}/inbox"
            body, headers = reporter.signed_post(inbox, flag)
            async with (
                aiohttp.ClientSession() as http,
                http.post(inbox, data=body, headers=headers) as response,
            ):
                assert response.status == 202

            async def queued() -> bool:
                return len(await moderation.list("open")) == 1

            await eventually(queued, what="the report reaches the queue")
            (report,) = await moderation.list("open")
            assert report["targets"] == [member.id, f"{member.id}/statuses/9"]
            assert report["comment"] == "Spam répété dans les réponses"

            await moderation.decide(
                report["id"], "suspend", by="camille", reason="spam"
            )
            assert (await membership.get(member.id) or {})["state"] == "suspended"

            await moderation.appeal(report["id"], reason="mon compte était piraté")
            with pytest.raises(ModerationError, match="someone other"):
                await moderation.hear(report["id"], "dismiss", by="camille", reason="")
            await moderation.hear(
                report["id"], "warn", by="dominique", reason="piratage établi"
            )
            (final,) = await moderation.list("final")
            assert (final["decision"], final["final_decision"]) == ("suspend", "warn")

            log = [e async for e in _log(node.origin)]
            assert [e["kind"] for e in log] == [
                "membership.admit",
                "membership.suspend",
                "moderation.decide",
                "moderation.appeal",
            ]

            # An appeal after the deadline is refused.
            body, headers = reporter.signed_post(
                inbox, {**flag, "id": f"{reporter.id}/flags/2"}
            )
            async with (
                aiohttp.ClientSession() as http,
                http.post(inbox, data=body, headers=headers) as response,
            ):
                assert response.status == 202

            async def second() -> bool:
                return len(await moderation.list("open")) == 1

            await eventually(second, what="the second report")
            (late,) = await moderation.list("open")
            await moderation.decide(late["id"], "dismiss", by="camille", reason="")
            moderation.clock = lambda: late["received_at"] + APPEAL_WITHIN + 60
            with pytest.raises(ModerationError, match="appeal period"):
                await moderation.appeal(late["id"], reason="trop tard")
    finally:
        await peer.stop()


async def _log(origin: str):  # type: ignore[no-untyped-def]
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{origin}/log?page=1", headers={"Accept": "application/activity+json"}
        ) as r,
    ):
        for entry in (await r.json(content_type=None))["orderedItems"]:
            yield entry


# --- over the fediverse: notices, appeals by reply, reminders, hidden posts ------


async def _post(actor: FakeActor, inbox: str, activity: dict[str, Any]) -> None:
    body, headers = actor.signed_post(inbox, activity)
    async with (
        aiohttp.ClientSession() as http,
        http.post(inbox, data=body, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()


def _notes_to(peer: FakePeer, actor: FakeActor) -> list[dict[str, Any]]:
    """The direct Notes ``actor`` received, oldest first."""
    return [
        act["object"]
        for act in peer.received
        if act.get("type") == "Create"
        and isinstance(act.get("object"), dict)
        and act["object"].get("type") == "Note"
        and act["object"].get("to") == [actor.id]
    ]


async def _reply(
    actor: FakeActor, node: RunningNode, notice: dict[str, Any], n: int, text: str
) -> None:
    note = {
        "id": f"{actor.id}/statuses/{n}",
        "type": "Note",
        "attributedTo": actor.id,
        "inReplyTo": notice["id"],
        # As Mastodon writes a reply: the mention of whom it answers first.
        "content": f'<p><span class="h-card"><a href="{node.actor()}" '
        f'class="u-url mention">@<span>node</span></a></span> {text}</p>',
        "to": [node.actor()],
        "tag": [{"type": "Mention", "href": node.actor(), "name": "@node"}],
    }
    await _post(
        actor,
        f"{node.origin}/inbox",
        {
            "id": f"{note['id']}/activity",
            "type": "Create",
            "actor": actor.id,
            "object": note,
            "to": note["to"],
        },
    )


async def _flag(
    reporter: FakeActor, node: RunningNode, n: int, objects: list[str]
) -> dict[str, Any]:
    moderation = node.node.moderation
    before = len(await moderation.list())
    await _post(
        reporter,
        f"{node.origin}/inbox",
        {
            "id": f"{reporter.id}/flags/{n}",
            "type": "Flag",
            "actor": reporter.id,
            "object": objects,
            "content": "Propos injurieux",
        },
    )

    async def queued() -> bool:
        return len(await moderation.list()) > before

    await eventually(queued, what="the report reaches the queue")
    return (await moderation.list())[-1]


async def test_the_reported_actor_is_told_and_appeals_by_reply(
    tmp_path: Path,
) -> None:
    peer = FakePeer()
    reporter, bob, carol = peer.add("instance"), peer.add("bob"), peer.add("carol")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            moderation = node.node.moderation
            status = f"{bob.id}/statuses/9"
            report = await _flag(reporter, node, 1, [bob.id, status])

            await moderation.decide(
                report["id"], "hide", by="camille", reason="insultes répétées"
            )
            # The statuses are hidden from the node's pages.
            assert await moderation.hidden([status, f"{bob.id}/statuses/10"]) == {
                status
            }

            async def both_told() -> bool:
                return bool(_notes_to(peer, bob)) and bool(_notes_to(peer, reporter))

            await eventually(both_told, what="the notices reach bob and the reporter")
            (notice,) = _notes_to(peer, bob)
            # A private mention: to bob alone, with the Mention Mastodon needs.
            assert notice["tag"] == [
                {"type": "Mention", "href": bob.id, "name": f"@bob@{peer.origin[7:]}"}
            ]
            assert notice["attributedTo"] == node.actor()
            assert "insultes répétées" in notice["content"]
            assert "« appel »" in notice["content"]  # how to appeal (fr node)
            assert notice["contentMap"] == {"fr": notice["content"]}
            (outcome,) = _notes_to(peer, reporter)
            assert f"{reporter.id}/flags/1" in outcome["content"]
            create = next(act for act in peer.received if act.get("object") is notice)
            assert create["to"] == [bob.id] and not create.get("cc")

            # Carol answers the notice: she is not the one reported; ignored.
            await _reply(carol, node, notice, 1, "appel : je proteste")
            # Bob appeals by replying, as the notice says.
            await _reply(bob, node, notice, 2, "Appel : c’était une citation")

            async def appealed() -> bool:
                return len(await moderation.list("appealed")) == 1

            await eventually(appealed, what="bob's reply is recorded as his appeal")
            (row,) = await moderation.list("appealed")
            assert row["appeal"] == "c’était une citation"

            # The appeal is heard: bob is told the final outcome, posts shown again.
            await moderation.hear(
                report["id"], "dismiss", by="dominique", reason="citation établie"
            )
            assert await moderation.hidden([status]) == set()

            async def final_told() -> bool:
                return len(_notes_to(peer, bob)) == 2

            await eventually(final_told, what="bob hears the final outcome")
            final = _notes_to(peer, bob)[1]
            assert "citation établie" in final["content"]
            assert "classé sans suite" in final["content"]
            kinds = [n["kind"] for n in await moderation.notices(report["id"])]
            assert sorted(kinds) == ["decision", "final", "outcome"]
            assert not _notes_to(peer, carol)
    finally:
        await peer.stop()


async def test_a_late_appeal_by_reply_is_refused_and_said_so(tmp_path: Path) -> None:
    peer = FakePeer()
    reporter, bob = peer.add("instance"), peer.add("bob")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            moderation = node.node.moderation
            report = await _flag(reporter, node, 1, [bob.id])
            await moderation.decide(report["id"], "warn", by="camille", reason="")

            async def told() -> bool:
                return len(_notes_to(peer, bob)) == 1

            await eventually(told, what="bob is told of the warning")
            (notice,) = _notes_to(peer, bob)
            # A reply that is not an appeal changes nothing…
            await _reply(bob, node, notice, 1, "merci pour l’info")
            # …and an appeal after the deadline is refused, and bob told why.
            moderation.clock = lambda: report["received_at"] + APPEAL_WITHIN + 60
            await _reply(bob, node, notice, 2, "appel")

            async def refused() -> bool:
                return len(_notes_to(peer, bob)) == 2

            await eventually(refused, what="bob learns his appeal came too late")
            assert "appeal period" in _notes_to(peer, bob)[1]["content"]
            assert [r["state"] for r in await moderation.list()] == ["decided"]
    finally:
        await peer.stop()


async def test_moderators_are_reminded_of_overdue_reports_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    peer = FakePeer()
    reporter, bob, mod = peer.add("instance"), peer.add("bob"), peer.add("mod")
    await peer.start()
    try:
        async with running_nodes(tmp_path, 1) as (node,):
            moderation = node.node.moderation
            membership = node.node.membership
            await membership._save(mod.id, "requested", f"{mod.id}/join/1")
            await membership.admit(mod.id, role="moderator")
            report = await _flag(reporter, node, 1, [bob.id])
            assert await moderation.remind() == 0  # not late yet

            start = report["received_at"]
            moderation.clock = lambda: start + DECIDE_WITHIN + 60
            with caplog.at_level(logging.WARNING, logger="bocage.node.moderation"):
                assert await moderation.remind() == 1
            assert "has waited too long for a decision" in caplog.text

            async def reminded() -> bool:
                return len(_notes_to(peer, mod)) == 1

            await eventually(reminded, what="the moderator is reminded")
            assert "attend une décision" in _notes_to(peer, mod)[0]["content"]
            # Later rounds stay quiet about it.
            assert await moderation.remind() == 0

            # Decided late, appealed, then the appeal waits too long as well.
            await moderation.decide(report["id"], "warn", by="camille", reason="")
            await moderation.appeal(report["id"], reason="je conteste")
            moderation.clock = lambda: start + DECIDE_WITHIN + HEAR_WITHIN + 120
            assert await moderation.remind() == 1

            async def reminded_again() -> bool:
                return len(_notes_to(peer, mod)) == 2

            await eventually(reminded_again, what="the moderator hears of the appeal")
            assert "appel" in _notes_to(peer, mod)[1]["content"].lower()
            assert await moderation.remind() == 0
    finally:
        await peer.stop()
