"""Governance pages: charter and its changes, the decision log, the members."""

from __future__ import annotations

import re

from tests.web.conftest import Site, audit_page


async def _admit(site: Site, actor: str, college: str = "") -> None:
    # What Membership.admit stores and logs, without telling a server that
    # does not exist (admit sends Accept(Join) to the actor).
    entry = await site.node.decisions.append(
        "membership.admit", actor, {"college": college, "role": "member"}
    )
    await site.node.membership._save(
        actor, "member", f"{actor}#join", college=college, role="member",
        decision=entry["index"],
    )  # fmt: skip


async def test_charter_versions_and_the_changes_between_them(site: Site) -> None:
    empty = await site.page("/charter")
    assert "has not adopted a charter yet" in empty

    charter = site.node.charter
    await charter.adopt("Charter", "We share data.\n\nWe decide together.")
    await charter.adopt("Charter", "We share open data.\n\nWe decide together.")

    page = await site.page("/charter")
    assert "Version 2, adopted on" in page and "We share open data." in page
    assert 'href="/charter/diff?from=1&amp;to=2"' in page
    old = await site.page("/charter/versions/1", language="fr")
    assert "Ce n&#39;est pas la version en vigueur." in old

    diff = await site.page("/charter/diff?from=1&to=2")
    assert "<del>− We share data.</del>" in diff
    assert "<ins>+ We share open data.</ins>" in diff
    assert "From version 1 (Charter) to version 2 (Charter)." in diff

    await site.page("/charter/versions/9", status=404)
    missing = await site.page("/charter/diff?from=1", status=400)
    assert "from= and to=" in missing


async def test_decision_log_page_explains_how_to_verify(site: Site) -> None:
    await _admit(site, "https://mastodon.example/users/alice", "citizens")
    page = await site.page("/log")
    assert "A member admitted" in page
    assert f"bocage verify-log {site.origin}/log" in page
    assert re.search(r'id="entry-0"', page)
    assert "1 entry" in page and "Latest signed checkpoint: 1 entries" in page
    french = await site.page("/log", language="fr-FR,fr;q=0.9")
    assert "Un membre admis" in french and "Comment le vérifier" in french

    # The JSON log is still there for programs, on the same IRI.
    async with site.http.get(
        site.origin + "/log?page=1", headers={"Accept": "application/activity+json"}
    ) as response:
        assert response.headers["Vary"].startswith("Accept")
        document = await response.json(content_type=None)
    assert document["orderedItems"][0]["kind"] == "membership.admit"


async def test_log_pages_go_back_in_time(site: Site) -> None:
    for n in range(55):
        await site.node.decisions.append(
            "membership.leave", f"https://x.example/users/u{n}", {}
        )
    first = await site.page("/log")
    assert 'href="/log?upto=4"' in first and "entry-54" in first
    older = await site.page("/log?upto=4")
    assert "entry-4" in older and "entry-5" not in older


async def test_members_page_lists_members_by_college(site: Site) -> None:
    await _admit(site, "https://mastodon.example/users/alice", "citizens")
    await _admit(site, "https://coop.example/actors/coop", "cooperatives")
    page = await site.page("/members")
    assert "2 members" in page
    assert "@alice@mastodon.example" in page and "@coop@coop.example" in page
    assert page.index("@alice@mastodon.example") < page.index("@coop@coop.example")
    assert "2 membres" in await site.page("/members", language="fr")


async def _member(site: Site, username: str, college: str = "citizens") -> str:
    await site.sign_up(username)
    actor = site.node.federation.fed.actor_iri(username)
    await site.node.membership.request(actor)
    await site.node.membership.admit(actor, college=college)
    return actor


async def test_a_poll_proposal_tells_how_to_vote_from_mastodon(site: Site) -> None:
    seq = await site.node.proposals.open("Open the bus data", "Every stop, hourly.")
    page = await site.page(f"/proposals/{seq}")
    handle = f"@node@{site.config.node.domain}"
    assert f"<code>{handle}</code>" in page
    assert f"{site.origin}/proposals/{seq}" in page
    assert "Choose an option in the poll" in page
    assert "Members with an account here can also vote" in page  # not signed in
    listing = await site.page("/proposals")
    assert f'href="/proposals/{seq}"' in listing and "Open for votes" in listing

    # JSON clients still get the Question on the same IRI.
    async with site.http.get(
        f"{site.origin}/proposals/{seq}",
        headers={"Accept": "application/activity+json"},
    ) as response:
        assert (await response.json(content_type=None))["type"] == "Question"


async def test_a_member_objects_with_a_reason_from_the_page(site: Site) -> None:
    await _member(site, "hugo")
    seq = await site.node.proposals.open(
        "Share the parking sensors", "Live occupancy.", rule="consent"
    )
    page = await site.page(f"/proposals/{seq}")
    assert "Your reason, if you object" in page
    token = await site.csrf(f"/proposals/{seq}")
    await site.post(
        f"/proposals/{seq}/ballot",
        {"csrf": token, "choice": "object", "reason": "Privacy of drivers."},
    )
    page = await site.page(f"/proposals/{seq}?done=voted")
    assert "Your ballot was counted." in page
    assert "Privacy of drivers." in page  # the objection is listed
    assert "a ballot cannot be changed" in page

    again = await site.post(
        f"/proposals/{seq}/ballot", {"csrf": token, "choice": "consent"}, status=409
    )
    assert "you already voted" in await again.text()

    document = await site.node.proposals.close(seq)
    assert document["result"]["outcome"] == "rejected"
    closed = await site.page(f"/proposals/{seq}", language="fr")
    assert f"bocage verify-tally {site.origin}/proposals/{seq}/tally" in closed
    assert "Résultat" in closed and "refusée" in closed


async def test_only_the_electorate_gets_a_ballot_form(site: Site) -> None:
    seq = await site.node.proposals.open("Before you joined", "…")
    await _member(site, "ines")  # admitted after the proposal opened
    page = await site.page(f"/proposals/{seq}")
    assert "not in this proposal&#39;s electorate" in page
    token = await site.csrf(f"/proposals/{seq}")
    refused = await site.post(
        f"/proposals/{seq}/ballot", {"csrf": token, "choice": "yes"}, status=409
    )
    assert "electorate" in await refused.text()


async def test_governance_pages_stay_small_and_keep_the_rules(site: Site) -> None:
    for n in range(250):
        await site.node.membership._save(
            f"https://mastodon.example/users/someone{n}", "member", "x",
            college="citizens",
        )  # fmt: skip
    for n in range(60):
        await site.node.decisions.append(
            "moderation.decide", f"https://x.example/reports/{n}",
            {"decision": "warn", "reason": "A long reason. " * 40},
        )  # fmt: skip
    await site.node.charter.adopt("Charter", "We share data.")
    await _member(site, "jules")  # signed in: the ballot form is shown
    seq = await site.node.proposals.open("A question", "Text.", rule="consent")

    members = await site.page("/members")
    assert "251 members" in members and 'href="?n=2"' in members
    assert "someone99" in members and "someone100" not in members
    assert "someone100" in await site.page("/members?n=2")
    for path in (
        "/members", "/members?n=3", "/log", "/charter", "/charter/versions/1",
        "/proposals", f"/proposals/{seq}", "/me", "/signin", "/signup",
    ):  # fmt: skip
        for language in ("en", "fr"):
            audit_page(await site.page(path, language=language))
