"""Our actors and their notes as pages, on the IRIs Mastodon links to."""

from __future__ import annotations

from tests.web.conftest import Site, audit_page


async def test_actor_and_note_pages(site: Site) -> None:
    outbox = site.node.federation.outbox
    note = await outbox.create_note(
        "node", "<p>Nouvelles données <strong>vélo</strong><img src=x></p>"
    )
    warned = await outbox.create_note("node", "<p>Travaux</p>", summary="Chantier")

    profile = await site.page("/actors/node")
    audit_page(profile)
    assert f"@node@{site.config.node.domain}" in profile
    assert "Nouvelles données <strong>vélo</strong>" in profile
    assert "<img" not in profile  # sanitised as Mastodon would
    assert "<details><summary>Chantier</summary>" in profile  # the CW folds it

    path = note["object"]["id"].removeprefix(site.origin)
    post = await site.page(path, language="fr")
    audit_page(post)
    assert "Nouvelles données" in post and "Pas encore de réponse." in post
    assert warned["object"]["id"] != note["object"]["id"]

    # Servers still get the documents on the same IRIs.
    for iri in (f"{site.origin}/actors/node", note["object"]["id"]):
        async with site.http.get(
            iri, headers={"Accept": "application/activity+json"}
        ) as response:
            assert (await response.json(content_type=None))["id"] == iri

    await site.page("/actors/nobody", status=404)
    await site.page("/actors/instance", status=404)  # the instance actor has no page
    await site.page("/objects/nothing", status=404)
