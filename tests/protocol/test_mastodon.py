"""The model of Mastodon's view, and each publication rule it checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from protocol.mastodon import check_publication, status_of, view

ORIGIN = "https://bocage.example"
ACTOR = f"{ORIGIN}/actors/node"
FOLLOWERS = f"{ACTOR}/followers"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ALICE = "https://m.example/users/alice"


def note() -> dict[str, Any]:
    content = (
        f'<p><span class="h-card"><a href="{ALICE}" class="u-url mention">'
        "@<span>alice</span></a></span> Bonjour !</p>"
    )
    return {
        "id": f"{ORIGIN}/objects/1",
        "type": "Note",
        "attributedTo": ACTOR,
        "content": content,
        "contentMap": {"fr": content},
        "published": "2026-11-02T10:00:00Z",
        "to": [PUBLIC],
        "cc": [FOLLOWERS, ALICE],
        "tag": [{"type": "Mention", "href": ALICE, "name": "@alice@m.example"}],
        "url": f"{ORIGIN}/objects/1",
    }


def question() -> dict[str, Any]:
    return {
        "id": f"{ORIGIN}/proposals/1",
        "type": "Question",
        "attributedTo": ACTOR,
        "content": "<p>Ouvrir les données ?</p>",
        "contentMap": {"fr": "<p>Ouvrir les données ?</p>"},
        "oneOf": [
            {
                "type": "Note",
                "name": n,
                "replies": {"type": "Collection", "totalItems": c},
            }
            for n, c in (("oui", 3), ("non", 1))
        ],
        "endTime": "2026-11-09T10:00:00Z",
        "votersCount": 4,
        "published": "2026-11-02T10:00:00Z",
        "to": [PUBLIC],
        "cc": [FOLLOWERS],
    }


def article() -> dict[str, Any]:
    return {
        "id": f"{ORIGIN}/charter",
        "type": ["Article", "dcat:Dataset"],
        "attributedTo": ACTOR,
        "name": "Charte",
        "summary": "Version 2 de la charte.",
        "content": "<p>Article 1.</p>",
        "contentMap": {"fr": "<p>Article 1.</p>"},
        "url": f"{ORIGIN}/charter/versions/2",
        "published": "2026-11-02T10:00:00Z",
        "to": [PUBLIC],
        "cc": [FOLLOWERS],
    }


def create(obj: dict[str, Any], kind: str = "Create") -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ORIGIN}/activities/1",
        "type": kind,
        "actor": ACTOR,
        "object": obj,
        "published": "2026-11-02T10:00:00Z",
        "to": obj.get("to", [PUBLIC]),
        "cc": obj.get("cc", [FOLLOWERS]),
    }


@pytest.mark.parametrize("obj", [note(), question(), article()])
def test_good_publications_pass(obj: dict[str, Any]) -> None:
    assert check_publication(create(obj)) == []
    assert check_publication(obj) == []


def test_a_note_is_shown_in_full() -> None:
    status = view(create(note()))
    assert status is not None and not status.converted
    assert "Bonjour" in status.text and 'class="u-url mention"' in status.text
    assert status.language == "fr"
    assert status.visibility == "public"
    assert [m.name for m in status.mentions] == ["@alice@m.example"]
    assert status.spoiler_text == ""


def test_a_question_is_a_poll() -> None:
    status = view(create(question()))
    assert status is not None and status.poll is not None
    assert [(o.title, o.votes_count) for o in status.poll.options] == [
        ("oui", 3),
        ("non", 1),
    ]
    assert not status.poll.multiple and not status.poll.closed
    assert status.poll.expires_at == "2026-11-09T10:00:00Z"
    closed = {**question(), "closed": "2026-11-08T10:00:00Z"}
    status = status_of(closed)
    assert status is not None and status.poll is not None
    assert status.poll.closed and status.poll.expires_at == "2026-11-08T10:00:00Z"


def test_an_article_becomes_name_summary_and_link() -> None:
    status = view(create(article()))
    assert status is not None and status.converted
    assert "Article 1." not in status.text  # content dropped
    assert "<p>Charte</p><p>Version 2 de la charte.</p>" in status.text
    assert f'href="{ORIGIN}/charter/versions/2"' in status.text
    assert status.spoiler_text == ""  # a summary here is no content warning


def test_update_shows_only_for_notes_and_questions() -> None:
    assert view(create(article(), "Update")) is None
    assert view(create(note(), "Update")) is not None


@pytest.mark.parametrize(
    ("to", "cc", "visibility"),
    [
        ([PUBLIC], [FOLLOWERS], "public"),
        ([FOLLOWERS], [PUBLIC], "unlisted"),
        ([FOLLOWERS], [], "private"),
        ([ALICE], [], "direct"),
        (["as:Public"], [], "public"),
    ],
)
def test_visibility(to: list[str], cc: list[str], visibility: str) -> None:
    status = status_of({**note(), "to": to, "cc": cc})
    assert status is not None and status.visibility == visibility


def broken(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (broken(note(), contentMap=None), "no contentMap"),
        (
            broken(note(), contentMap={"fr": "<p>x</p>", "en": "<p>x</p>"}),
            "contentMap has 2 entries",
        ),
        (broken(note(), contentMap={"fr": "<p>autre</p>"}), "differs from content"),
        (
            broken(note(), content="<h1>T</h1>", contentMap={"fr": "<h1>T</h1>"}),
            "content loses markup on Mastodon: <h1> removed",
        ),
        (broken(note(), published=None), "no valid published"),
        (broken(note(), id="https://other.example/objects/1"), "is not under"),
        (broken(note(), url="https://other.example/x"), "on another host"),
        (broken(note(), summary="Spoiler"), "summary becomes a content warning"),
        (
            broken(note(), summary="<b>CW</b>", sensitive=True),
            "content warning shows its markup",
        ),
        (broken(note(), cc=[FOLLOWERS]), "without the actor in to or cc"),
        (
            broken(note(), tag=[{"type": "Mention", "href": ALICE, "name": "alice"}]),
            "is not named @user@host",
        ),
        (
            broken(
                note(),
                tag=[{"type": "Mention", "href": ALICE, "name": "@bob@m.example"}],
            ),
            "does not appear in the content",
        ),
        (broken(note(), to=[], cc=[]), "no to or cc"),
        (broken(note(), to=[], cc=[FOLLOWERS, ALICE]), "followers only in cc"),
        (broken(note(), content=None, contentMap=None), "no content"),
        (broken(article(), name=None), "no name"),
        (broken(article(), url=None), "no url"),
        (broken(article(), summary=None), "no summary"),
        (broken(article(), name="A &amp; B"), "name shows its markup"),
        (broken(question(), oneOf=None), "exactly one of oneOf and anyOf"),
        (broken(question(), anyOf=question()["oneOf"]), "exactly one of"),
        (broken(question(), endTime=None), "no valid endTime"),
        (broken(question(), votersCount=None), "no votersCount"),
        (broken(question(), closed="hier"), "closed is neither"),
        (
            broken(question(), oneOf=[question()["oneOf"][0]] * 2),
            "repeats 'oui'",
        ),
        (
            broken(question(), oneOf=[{"type": "Note", "name": "oui"}]),
            "no replies Collection",
        ),
    ],
)
def test_each_rule(obj: dict[str, Any], expected: str) -> None:
    problems = check_publication(create(obj))
    assert any(expected in p for p in problems), problems


def test_activity_rules() -> None:
    activity = create(note())
    assert any("@context" in p for p in check_publication({**activity, "@context": []}))
    assert any(
        "no valid published" in p
        for p in check_publication({**activity, "published": "demain"})
    )
    assert any(
        "must be embedded" in p
        for p in check_publication({**activity, "object": note()["id"]})
    )
    addressed = {**activity, "to": [PUBLIC], "cc": []}
    assert any("addressed otherwise" in p for p in check_publication(addressed))
    other = {**activity, "object": {**note(), "attributedTo": ALICE}}
    assert any("is not the actor" in p for p in check_publication(other))


def test_update_must_be_newer() -> None:
    first = broken(note(), updated="2026-11-03T10:00:00Z")
    same = create(first, "Update")
    assert check_publication(same, previous=first)[0].endswith(
        "is not after the previous version's 2026-11-03T10:00:00Z"
    )
    later = create(broken(note(), updated="2026-11-04T10:00:00Z"), "Update")
    assert check_publication(later, previous=create(first)) == []
    assert any(
        "no valid updated" in p for p in check_publication(create(note(), "Update"))
    )


def test_delete_accept_and_invite() -> None:
    base = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ORIGIN}/activities/2",
        "actor": ACTOR,
        "published": "2026-11-02T10:00:00Z",
        "to": [ALICE],
    }
    tombstone = {"id": f"{ORIGIN}/objects/1", "type": "Tombstone"}
    assert check_publication({**base, "type": "Delete", "object": tombstone}) == []
    assert (
        check_publication({**base, "type": "Delete", "object": tombstone["id"]}) == []
    )
    foreign = {**base, "type": "Delete", "object": f"{ALICE}/statuses/1"}
    assert any("not one of ours" in p for p in check_publication(foreign))
    follow = {
        "id": f"{ALICE}#follow",
        "type": "Follow",
        "actor": ALICE,
        "object": ACTOR,
    }
    assert check_publication({**base, "type": "Accept", "object": follow}) == []
    bare = {**base, "type": "Accept", "object": {"type": "Follow"}}
    assert check_publication(bare) == [
        "Accept: the embedded activity has no id, actor",
        "Accept: the embedded Follow has no object",
    ]
    invite = {**base, "type": "Invite", "object": ACTOR}
    assert check_publication(invite) == ["Invite: no target (the actor invited)"]
    assert check_publication({**invite, "target": ALICE}) == []
