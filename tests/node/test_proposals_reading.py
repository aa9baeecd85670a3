"""Reading ballots out of replies: Mastodon's HTML, mentions, grades, objections."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from rdflib import RDFS, Graph, Literal, URIRef

from node.proposals import (
    BOCAGE_NS,
    DEFAULT_GRADES,
    JUDGMENT_CONTEXT,
    ProposalError,
    make_rule,
    note_lines,
    read_ballot,
    read_judgments,
    read_objection,
)
from protocol.jsonld import expand
from protocol.tally import MajorityJudgment

OPTIONS = ("Parc", "Parking: 40 places", "Potager")

# A reply as Mastodon 4 writes it: the mention first, <br /> between lines.
MASTODON_REPLY = (
    '<p><span class="h-card" translate="no"><a href="https://b.test/@node" '
    'class="u-url mention">@<span>node</span></a></span> parc: Very  Good<br />'
    "PARKING: 40 places : reject</p><p>Merci &amp; à bientôt</p>"
)


def test_note_lines_strip_html_mentions_and_entities() -> None:
    assert note_lines(MASTODON_REPLY) == [
        "parc: Very Good",
        "PARKING: 40 places : reject",
        "Merci & à bientôt",
    ]
    assert note_lines("<p>@node@b.test @alice</p><p>Objection: no</p>") == [
        "Objection: no"
    ]


def test_read_judgments_matches_case_and_spaces_aside() -> None:
    lines = note_lines(MASTODON_REPLY)
    assert read_judgments(lines, OPTIONS, DEFAULT_GRADES) == {
        "Parc": "very good",
        "Parking: 40 places": "reject",
    }


def test_read_judgments_keeps_what_it_cannot_match_so_it_is_refused() -> None:
    lines = ["Parc: goood", "Piscine: good", "Note: I like the park", "no colon"]
    # The typo and the unknown option are kept as written (the ballot will
    # be refused, saying why); a line naming neither is prose.
    assert read_judgments(lines, OPTIONS, DEFAULT_GRADES) == {
        "Parc": "goood",
        "Piscine": "good",
    }


def test_an_option_judged_twice_differently_is_ambiguous() -> None:
    with pytest.raises(ProposalError, match="judged twice"):
        read_judgments(["Parc: good", "parc: poor"], OPTIONS, DEFAULT_GRADES)
    # The same judgment twice is no ambiguity.
    twice = read_judgments(["Parc: good", "PARC: Good."], OPTIONS, DEFAULT_GRADES)
    assert twice == {"Parc": "good"}


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<p>Objection : le coût est trop élevé.</p>", "le coût est trop élevé."),
        ("<p>object - too expensive</p>", "too expensive"),
        ("<p>J’objecte, pas de concertation</p>", "pas de concertation"),
        ("<p>j'objecte</p><p>pas de budget</p>", "pas de budget"),
        ("<p>@node OBJECTION</p>", ""),
        ("<p>Objectively this is fine</p>", None),
        ("<p>I object to nothing</p>", None),
        ("<p>Merci !</p>", None),
    ],
)  # fmt: skip
def test_read_objection(html: str, reason: str | None) -> None:
    assert read_objection(note_lines(html)) == reason


def test_read_ballot_by_rule() -> None:
    judgment = {"rule": "judgment", "options": list(OPTIONS), "grades": ["a", "b"]}
    consent = {"rule": "consent"}
    majority = {"rule": "majority"}

    # A name makes a poll vote, whatever the rule.
    vote = read_ballot(majority, {"type": "Note", "name": "yes"})
    assert vote is not None and (vote.choice, vote.reply) == ("yes", False)
    answer = read_ballot(consent, {"type": "Answer", "name": "consent"})
    assert answer is not None and answer.choice == "consent"

    structured = read_ballot(
        judgment, {"type": "Note", "bocage:judgments": {"Parc": "a"}}
    )
    assert structured is not None and structured.judgments == {"Parc": "a"}
    with pytest.raises(ProposalError):
        read_ballot(judgment, {"type": "Note", "bocage:judgments": {"Parc": 1}})
    human = read_ballot(judgment, {"content": "<p>potager: B</p>"})
    assert human is not None and human.judgments == {"Potager": "b"}
    assert read_ballot(judgment, {"content": "<p>What a good idea</p>"}) is None

    objection = read_ballot(
        consent, {"contentMap": {"fr": "<p>Objection: trop cher</p>"}}
    )
    assert objection is not None
    assert (objection.choice, objection.reason) == ("object", "trop cher")
    # Replies to a yes/no proposal are comments.
    assert read_ballot(majority, {"content": "<p>objection: no</p>"}) is None


def test_grades_are_stored_best_first_and_tallied_worst_first() -> None:
    rule = make_rule("judgment", Fraction(0), Fraction(2, 3), DEFAULT_GRADES)
    assert isinstance(rule, MajorityJudgment)
    assert rule.grades == tuple(reversed(DEFAULT_GRADES))
    with pytest.raises(ProposalError, match="rule must be one of"):
        make_rule("sortition")


PROFILE = Path(__file__).resolve().parents[2] / "protocol" / "profile" / "bocage.ttl"


def test_judgment_terms_expand_and_are_in_the_vocabulary() -> None:
    (ballot,) = expand(
        {
            "@context": JUDGMENT_CONTEXT,
            "type": "Note",
            "bocage:options": ["B", "A"],
            "bocage:judgments": {"Parc": "good", "Parking": "poor"},
        }
    )
    # Options keep their order; judgments stay one JSON object, keys intact.
    assert ballot[BOCAGE_NS + "options"] == [
        {"@list": [{"@value": "B"}, {"@value": "A"}]}
    ]
    assert ballot[BOCAGE_NS + "judgments"] == [
        {"@type": "@json", "@value": {"Parc": "good", "Parking": "poor"}}
    ]

    vocabulary = Graph().parse(PROFILE)
    for term in ("options", "grades", "judgments"):
        languages = {
            label.language
            for label in vocabulary.objects(URIRef(BOCAGE_NS + term), RDFS.label)
            if isinstance(label, Literal)
        }
        assert {"en", "fr"} <= languages, term
