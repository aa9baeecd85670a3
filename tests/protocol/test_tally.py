"""Tests for protocol.tally: decision rules computed by hand, then published.

Every expected number below was worked out by hand; the comment above each
assertion shows the arithmetic.  Weights are Fractions and are published as
"n/d" strings.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.tally import (
    ALGORITHM_VERSION,
    Ballot,
    Consent,
    Electorate,
    Majority,
    MajorityJudgment,
    Rule,
    Supermajority,
    Tally,
    TallyError,
    ballot_commitment,
    ballot_salt,
    tally,
    tally_document,
    verify_tally,
)

OPEN = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
CLOSE = OPEN + timedelta(days=7)
YES_NO = ("yes", "no", "abstain")
CONSENT_OPTIONS = ("consent", "object", "abstain")
GRADES = ("to reject", "poor", "acceptable", "good", "very good")
R, P, A, G, VG = GRADES
KEY = b"0123456789abcdef-proposal-42"

# Weighted colleges used throughout: territories ×2, cooperatives ×1,
# citizens ×1/2.
WEIGHTS = {
    "territories": Fraction(2),
    "cooperatives": Fraction(1),
    "citizens": Fraction(1, 2),
}

_serial = 0


def vote(
    voter: str,
    choice: str | None = None,
    *,
    college: str = "members",
    hours: float = 1,
    reason: str | None = None,
    grades: dict[str, str] | None = None,
    ident: str | None = None,
) -> Ballot:
    global _serial  # noqa: PLW0603 - unique ids keep the canonical order obvious
    _serial += 1
    return Ballot(
        id=ident or f"https://node.example/ballots/{_serial:04d}",
        voter=f"https://node.example/users/{voter}",
        college=college,
        cast_at=OPEN + timedelta(hours=hours),
        choice=choice,
        reason=reason,
        grades=grades,
    )


def members(*names: str, college: str = "members") -> dict[str, str]:
    return {f"https://node.example/users/{n}": college for n in names}


def flat(count: int) -> Electorate:
    return Electorate(members(*(f"m{i}" for i in range(count))))


def weighted() -> Electorate:
    # territories t1, t2 (2 × 2 = 4), cooperatives c1..c3 (3 × 1 = 3),
    # citizens z1..z4 (4 × 1/2 = 2): eligible weight 4 + 3 + 2 = 9.
    voters = {
        **members("t1", "t2", college="territories"),
        **members("c1", "c2", "c3", college="cooperatives"),
        **members("z1", "z2", "z3", "z4", college="citizens"),
    }
    return Electorate(voters, WEIGHTS)


def yes_no(*choices: str) -> list[Ballot]:
    return [vote(f"m{i}", c, hours=1 + i) for i, c in enumerate(choices)]


# -- simple majority with quorum -----------------------------------------------


def test_majority_quorum_met_counting_abstentions() -> None:
    ballots = yes_no("yes", "yes", "yes", "no", "abstain")
    t = tally(Majority(Fraction(1, 2)), YES_NO, ballots, flat(10), CLOSE)

    # present = 3 yes + 1 no + 1 abstain = 5 >= 1/2 × 10 = 5: quorum reached.
    assert t.quorum_reached
    # 3 yes > 1 no.
    assert t.outcome == "adopted"
    assert t.counts == {"yes": 3, "no": 1, "abstain": 1}
    # turnout = 5 / 10 = 1/2
    assert t.turnout == Fraction(1, 2)
    assert tally_document(t)["result"]["turnout"] == "1/2"


def test_majority_quorum_not_met_when_abstentions_do_not_count() -> None:
    ballots = yes_no("yes", "yes", "yes", "no", "abstain")
    rule = Majority(Fraction(1, 2), abstentions_count_for_quorum=False)
    t = tally(rule, YES_NO, ballots, flat(10), CLOSE)

    # present = 3 yes + 1 no = 4 < 5: no quorum, whatever the votes say.
    assert not t.quorum_reached
    assert t.outcome == "no-decision"
    # turnout still counts the abstention: 5 / 10.
    assert t.turnout == Fraction(1, 2)


def test_majority_quorum_not_met() -> None:
    ballots = yes_no("yes", "yes", "no", "abstain")
    t = tally(Majority(Fraction(1, 2)), YES_NO, ballots, flat(10), CLOSE)

    # present = 2 + 1 + 1 = 4 < 5.
    assert not t.quorum_reached
    assert t.outcome == "no-decision"
    assert tally_document(t)["result"]["quorumReached"] is False


def test_majority_tie_is_rejected() -> None:
    t = tally(Majority(), YES_NO, yes_no("yes", "no"), flat(2), CLOSE)

    # 1 yes, 1 no: not a majority, the status quo stands.
    assert t.quorum_reached
    assert t.outcome == "rejected"


# -- supermajority -------------------------------------------------------------


def test_two_thirds_exactly_reached_is_adopted() -> None:
    ballots = yes_no(*["yes"] * 6, *["no"] * 3, "abstain", "abstain")
    t = tally(Supermajority(Fraction(2, 3)), YES_NO, ballots, flat(12), CLOSE)

    # cast = 6 + 3 = 9 (abstentions excluded); 6 >= 2/3 × 9 = 6: adopted.
    assert t.counts == {"yes": 6, "no": 3, "abstain": 2}
    assert t.outcome == "adopted"


def test_two_thirds_one_vote_short_is_rejected() -> None:
    ballots = yes_no(*["yes"] * 5, *["no"] * 3, "abstain", "abstain")
    t = tally(Supermajority(Fraction(2, 3)), YES_NO, ballots, flat(12), CLOSE)

    # cast = 5 + 3 = 8; 5 < 2/3 × 8 = 16/3 ≈ 5.33: one more yes would make
    # 6 of 9, exactly two thirds.
    assert t.outcome == "rejected"


def test_supermajority_with_quorum() -> None:
    ballots = yes_no("yes", "yes", "yes")
    rule = Supermajority(Fraction(3, 4), quorum=Fraction(1, 2))
    t = tally(rule, YES_NO, ballots, flat(10), CLOSE)

    # 3 present < 1/2 × 10 = 5, although 3/3 >= 3/4.
    assert t.outcome == "no-decision"


def test_supermajority_without_votes_is_rejected() -> None:
    t = tally(Supermajority(), YES_NO, yes_no("abstain"), flat(3), CLOSE)

    # 0 yes, 0 no: nothing was cast, nothing is adopted.
    assert t.outcome == "rejected"


# -- weighted colleges ---------------------------------------------------------


def test_weighted_colleges_flip_a_majority() -> None:
    ballots = [
        vote("t1", "yes", college="territories"),
        vote("t2", "yes", college="territories"),
        vote("c1", "no", college="cooperatives"),
        vote("c2", "no", college="cooperatives"),
        vote("z1", "no", college="citizens"),
        vote("z2", "no", college="citizens"),
        vote("z3", "no", college="citizens"),
        vote("z4", "abstain", college="citizens"),
    ]
    t = tally(Majority(Fraction(1, 2)), YES_NO, ballots, weighted(), CLOSE)

    # yes = 2 + 2 = 4; no = 1 + 1 + 1/2 + 1/2 + 1/2 = 7/2; abstain = 1/2.
    # Unweighted it would be 2 yes against 5 no.
    assert t.counts == {"yes": 4, "no": Fraction(7, 2), "abstain": Fraction(1, 2)}
    # present = 4 + 7/2 + 1/2 = 8 >= 1/2 × 9 = 9/2; 4 > 7/2: adopted.
    assert t.quorum_reached
    assert t.outcome == "adopted"
    # turnout = 8 / 9
    assert t.eligible_weight == 9
    assert t.turnout == Fraction(8, 9)
    result = tally_document(t)["result"]
    assert result["counts"] == {"yes": "4/1", "no": "7/2", "abstain": "1/2"}
    assert result["eligibleWeight"] == "9/1"
    assert result["participatingWeight"] == "8/1"
    assert result["turnout"] == "8/9"


def test_weighted_supermajority() -> None:
    ballots = [
        vote("t1", "yes", college="territories"),
        vote("c1", "no", college="cooperatives"),
        vote("z1", "yes", college="citizens"),
        vote("z2", "no", college="citizens"),
    ]
    t = tally(Supermajority(Fraction(2, 3)), YES_NO, ballots, weighted(), CLOSE)

    # yes = 2 + 1/2 = 5/2; no = 1 + 1/2 = 3/2; cast = 4; 2/3 × 4 = 8/3.
    # 5/2 = 15/6 < 16/6 = 8/3: rejected (unweighted: 2 of 4, also rejected).
    assert t.counts["yes"] == Fraction(5, 2)
    assert t.outcome == "rejected"
    # One more citizen yes: yes = 3, cast = 9/2, 2/3 × 9/2 = 3: exactly.
    more = [*ballots, vote("z3", "yes", college="citizens")]
    t = tally(Supermajority(Fraction(2, 3)), YES_NO, more, weighted(), CLOSE)
    assert t.outcome == "adopted"


# -- refused ballots -------------------------------------------------------------


def test_refused_ballots_each_have_a_reason() -> None:
    electorate = Electorate(members("a", "b", "c", "d"))
    first_a = vote("a", "yes", hours=1)
    ballots = [
        first_a,
        vote("a", "no", hours=2),  # duplicate: a already voted at 1 h
        vote("x", "yes", hours=1),  # not in the electorate
        vote("b", "yes", college="territories", hours=1),  # wrong college
        vote("c", "yes", hours=7 * 24),  # cast exactly at closing time
        vote("c", "maybe", hours=3),  # not an option
        vote("c", grades={"yes": "good"}, hours=4),  # wrong shape
        vote("c", "no", hours=5),  # c's first valid ballot: counted
        # Same instant: the lower id counts, the other is a duplicate.
        vote("d", "yes", hours=6, ident="https://node.example/ballots/d2"),
        vote("d", "no", hours=6, ident="https://node.example/ballots/d1"),
    ]
    t = tally(Majority(), YES_NO, ballots, electorate, CLOSE)

    reasons = sorted(
        (r.ballot.voter.rsplit("/", 1)[1], r.reason, r.detail) for r in t.refused
    )
    assert reasons == [
        ("a", "duplicate", ""),
        ("b", "not-eligible", ""),
        ("c", "late", ""),
        ("c", "malformed", "this rule expects one choice"),
        ("c", "unknown-option", "maybe"),
        ("d", "duplicate", ""),
        ("x", "not-eligible", ""),
    ]
    assert next(r for r in t.refused if r.ballot.voter.endswith("/d")).ballot.id == (
        "https://node.example/ballots/d2"
    )
    # counted: a yes, c no, d no (d1) -> yes 1, no 2.
    assert t.counts == {"yes": 1, "no": 2, "abstain": 0}
    assert t.counted[0] is first_a
    assert t.outcome == "rejected"

    document = tally_document(t)
    result = document["result"]
    assert len(result["counted"]) == 3
    assert {r["reason"] for r in result["refused"]} == {
        "duplicate",
        "not-eligible",
        "late",
        "malformed",
        "unknown-option",
    }
    assert verify_tally(document).ok


def test_ballot_just_before_close_counts() -> None:
    ballot = Ballot("urn:b:1", "https://node.example/users/m0", "members", CLOSE)
    early = Ballot(
        "urn:b:2",
        "https://node.example/users/m1",
        "members",
        CLOSE - timedelta(microseconds=1),
        choice="yes",
    )
    t = tally(Majority(), YES_NO, [ballot, early], flat(2), CLOSE)

    assert [r.reason for r in t.refused] == ["late"]
    assert t.counts["yes"] == 1


def test_bad_setup_raises() -> None:
    with pytest.raises(TallyError):
        tally(Majority(), ("yes", "maybe"), [], flat(1), CLOSE)
    with pytest.raises(TallyError):
        tally(Majority(Fraction(3, 2)), YES_NO, [], flat(1), CLOSE)
    with pytest.raises(TallyError):
        tally(MajorityJudgment((G,)), ("A",), [], flat(1), CLOSE)
    with pytest.raises(TallyError):
        tally(Majority(), YES_NO, [], flat(1), CLOSE.replace(tzinfo=None))
    with pytest.raises(TallyError):
        tally(Consent(), CONSENT_OPTIONS, [], Electorate({}, {"x": Fraction(0)}), CLOSE)
    with pytest.raises(TallyError):
        Ballot("urn:b", "urn:v", "c", datetime(2026, 1, 1))


# -- consent -------------------------------------------------------------------


def consent_votes(*choices: tuple[str, str | None]) -> list[Ballot]:
    return [vote(f"m{i}", c, reason=r, hours=1 + i) for i, (c, r) in enumerate(choices)]


def test_consent_without_objection_is_adopted() -> None:
    ballots = consent_votes(("consent", None), ("consent", None), ("abstain", None))
    t = tally(Consent(), CONSENT_OPTIONS, ballots, flat(5), CLOSE)

    assert t.outcome == "adopted"
    assert t.objections == ()
    assert tally_document(t)["result"]["objections"] == []


def test_consent_with_a_reasoned_objection_is_rejected() -> None:
    ballots = consent_votes(
        ("consent", None),
        ("object", "the budget line 4 is not covered"),
        ("consent", None),
    )
    t = tally(Consent(), CONSENT_OPTIONS, ballots, flat(3), CLOSE)

    assert t.outcome == "rejected"
    assert [b.reason for b in t.objections] == ["the budget line 4 is not covered"]
    assert tally_document(t)["result"]["objections"] == [
        {"index": 1, "reason": "the budget line 4 is not covered"}
    ]


def test_objection_without_reason_is_refused() -> None:
    ballots = consent_votes(("consent", None), ("object", None), ("object", "  "))
    t = tally(Consent(), CONSENT_OPTIONS, ballots, flat(3), CLOSE)

    # Both objections lack a reason: refused as malformed, so none remains.
    assert [r.reason for r in t.refused] == ["malformed", "malformed"]
    assert t.outcome == "adopted"
    assert t.counts == {"consent": 1, "object": 0, "abstain": 0}


# -- majority judgment ---------------------------------------------------------


def judge(voter: str, college: str = "members", **grades: str) -> Ballot:
    return vote(voter, grades=grades, college=college)


def mj(
    ballots: list[Ballot], options: tuple[str, ...], electorate: Electorate
) -> Tally:
    return tally(MajorityJudgment(GRADES), options, ballots, electorate, CLOSE)


def test_majority_judgment_three_options() -> None:
    ballots = [
        judge("m0", A=VG, B=VG, C=G),
        judge("m1", A=G, B=VG, C=G),
        judge("m2", A=G, B=A, C=G),
        judge("m3", A=A, B=A, C=P),
        judge("m4", A=P, B=P, C=P),
        judge("m5", A=G, B=R, C=P),
    ]
    t = mj(ballots, ("A", "B", "C"), flat(6))

    # n = 6, the lower median is the 3rd grade from the bottom.
    # A sorted: P A G G G VG      -> 3rd = good
    # B sorted: R P A A VG VG     -> 3rd = acceptable
    # C sorted: P P P G G G       -> 3rd = poor (the upper median is good)
    assert t.majority_grades == {"A": G, "B": A, "C": P}
    assert t.outcome == "winner"
    assert t.winners == ("A",)
    assert t.grade_counts["C"] == {R: 0, P: 3, A: 0, G: 3, VG: 0}
    result = tally_document(t)["result"]
    assert result["gradeCounts"]["C"][P] == "3/1"
    assert result["majorityGrades"] == {"A": G, "B": A, "C": P}


def test_majority_judgment_tie_broken_after_one_removal() -> None:
    ballots = [
        judge("m0", A=G, C=R),
        judge("m1", A=G, C=G),
        judge("m2", A=A, C=VG),
        judge("m3", A=P, C=VG),
        judge("m4", A=VG, C=P),
    ]
    t = mj(ballots, ("A", "C"), flat(5))

    # A: P A G G VG, C: R P G VG VG; both have majority grade good (3rd).
    assert t.majority_grades == {"A": G, "C": G}
    # Remove one good from each:
    # A: P A G VG -> 2nd = acceptable; C: R P VG VG -> 2nd = poor. A wins.
    assert t.winners == ("A",)


def test_majority_judgment_tie_broken_after_several_removals() -> None:
    ballots = [
        judge("m0", A=P, B=A, C=A),
        judge("m1", A=G, B=G, C=A),
        judge("m2", A=G, B=G, C=A),
        judge("m3", A=G, B=G, C=G),
        judge("m4", A=VG, B=G, C=VG),
    ]
    t = mj(ballots, ("A", "B", "C"), flat(5))

    # A: P G G G VG -> good; B: A G G G G -> good; C: A A A G VG -> acceptable.
    # Remove a good from A and B: A: P G G VG -> good; B: A G G G -> good.
    # Again:                      A: P G VG   -> good; B: A G G   -> good.
    # Again:                      A: P VG     -> poor; B: A G     -> acceptable.
    # B wins after three removals.
    assert t.majority_grades == {"A": G, "B": G, "C": A}
    assert t.outcome == "winner"
    assert t.winners == ("B",)


def test_majority_judgment_perfect_tie() -> None:
    ballots = [
        judge("m0", A=P, B=VG),
        judge("m1", A=G, B=P),
        judge("m2", A=VG, B=G),
    ]
    t = mj(ballots, ("A", "B"), flat(3))

    # Both are {P, G, VG}: the medians stay equal until no grade is left
    # (good, then poor, then very good for both).
    assert t.outcome == "tie"
    assert t.winners == ("A", "B")
    assert verify_tally(tally_document(t)).ok


def test_missing_judgment_counts_as_lowest_grade() -> None:
    ballots = [
        judge("m0", A=G, B=VG),
        judge("m1", A=G),
        judge("m2", A=G),
    ]
    t = mj(ballots, ("A", "B"), flat(3))

    # B: VG, missing, missing -> VG R R -> sorted R R VG -> 2nd = to reject.
    # (Ignoring the missing judgments would give B "very good" and the win.)
    assert t.grade_counts["B"] == {R: 2, P: 0, A: 0, G: 0, VG: 1}
    assert t.majority_grades == {"A": G, "B": R}
    assert t.winners == ("A",)


def test_majority_judgment_weighted_voters() -> None:
    ballots = [
        judge("t1", "territories", A=P, B=G),
        judge("c1", "cooperatives", A=G, B=P),
        judge("z1", "citizens", A=G, B=P),
        judge("z2", "citizens", A=G, B=A),
    ]
    t = mj(ballots, ("A", "B"), weighted())

    # Total weight 2 + 1 + 1/2 + 1/2 = 4; the median needs 4/2 = 2 at or below.
    # A: poor 2 (t1), good 1 + 1/2 + 1/2 = 2 -> cum(poor) = 2 >= 2 -> poor.
    # B: poor 1 + 1/2 = 3/2 < 2; acceptable 1/2 -> cum 2 >= 2 -> acceptable.
    # B wins; unweighted, A (P G G G -> good) would beat B (P P A G -> poor).
    assert t.grade_counts["A"][P] == 2
    assert t.grade_counts["B"][P] == Fraction(3, 2)
    assert t.majority_grades == {"A": P, "B": A}
    assert t.winners == ("B",)
    unweighted = mj(ballots, ("A", "B"), Electorate(weighted().voters))
    assert unweighted.winners == ("A",)


def test_majority_judgment_weighted_tie_break_removes_units() -> None:
    ballots = [
        judge("t1", "territories", A=G, B=G),
        judge("z1", "citizens", A=P, B=A),
        judge("z2", "citizens", A=VG, B=G),
    ]
    t = mj(ballots, ("A", "B"), weighted())

    # Unit u = gcd(2, 1/2, 1/2) = 1/2: t1 is 4 units, z1 and z2 one each.
    # A: P1 G4 VG1 (6 units) -> cum P = 1 < 3, cum G = 5 -> good.
    # B: A1 G5     (6 units) -> good.  Tied; remove one unit of good at a time:
    # 5 units: A P1 G3 VG1 -> good;   B A1 G4 -> good
    # 4 units: A P1 G2 VG1 -> good;   B A1 G3 -> good
    # 3 units: A P1 G1 VG1 -> good;   B A1 G2 -> good
    # 2 units: A P1 VG1    -> poor;   B A1 G1 -> acceptable: B wins.
    assert t.majority_grades == {"A": G, "B": G}
    assert t.winners == ("B",)


def test_majority_judgment_unknown_grade_and_option() -> None:
    ballots = [
        judge("m0", A=G, Z=G),
        judge("m1", A="superb"),
        vote("m2", "yes"),
        judge("m3", A=G),
    ]
    t = mj(ballots, ("A",), flat(4))

    assert [(r.reason, r.detail) for r in t.refused] == [
        ("unknown-option", "Z"),
        ("malformed", "unknown grade 'superb'"),
        ("malformed", "majority judgment ballots carry grades only"),
    ]
    assert t.winners == ("A",)


def test_majority_judgment_without_ballots_decides_nothing() -> None:
    t = mj([], ("A", "B"), flat(3))

    assert t.outcome == "no-decision"
    assert t.winners == ()
    assert verify_tally(tally_document(t)).ok


# -- publishing and verifying ----------------------------------------------------


def sample_tally() -> Tally:
    ballots = [
        vote("t1", "yes", college="territories"),
        vote("c1", "no", college="cooperatives", hours=2),
        vote("z1", "abstain", college="citizens", hours=3),
        vote("q", "yes", hours=4),
    ]
    return tally(Majority(Fraction(1, 3)), YES_NO, ballots, weighted(), CLOSE)


def test_document_shape_and_round_trip() -> None:
    t = sample_tally()
    document = tally_document(t)

    assert document["algorithm"] == ALGORITHM_VERSION == "bocage-tally/1"
    assert document["rule"] == {
        "type": "Majority",
        "quorum": "1/3",
        "abstentionsCountForQuorum": True,
    }
    assert document["closesAt"] == "2026-05-08T09:00:00.000000Z"
    assert len(document["inputsHash"]) == 64
    assert document["inputsHash"] == t.inputs_hash
    assert document["result"]["refused"] == [{"index": 3, "reason": "not-eligible"}]
    result = verify_tally(document)
    assert result.ok, result.mismatches
    assert not result.secret


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in string_paths(v, (*path, i))]
    return [path] if isinstance(value, str | bool) else []


def change_one_byte(document: dict[str, Any], path: tuple[Any, ...]) -> None:
    *parents, last = path
    target = document
    for step in parents:
        target = target[step]
    value = target[last]
    if isinstance(value, bool):
        target[last] = not value
    else:
        # Change the last character to another one (a byte for ASCII text).
        end = value[-1:] or "x"
        target[last] = value[:-1] + ("0" if end != "0" else "1")


def test_one_byte_change_in_any_input_is_detected() -> None:
    original = tally_document(sample_tally())
    inputs = ("rule", "options", "electorate", "closesAt", "ballots")
    paths = [p for p in string_paths(original) if p[0] in inputs]
    assert len(paths) > 20

    for path in paths:
        document = copy.deepcopy(original)
        change_one_byte(document, path)
        result = verify_tally(document)
        assert not result.ok, path
        fields = {m.field for m in result.mismatches}
        assert fields & {"inputsHash", "document"}, (path, fields)


def test_changed_outcome_and_counts_are_reported() -> None:
    original = tally_document(sample_tally())
    # yes = 2, no = 1: adopted.
    assert original["result"]["outcome"] == "adopted"

    document = copy.deepcopy(original)
    document["result"]["outcome"] = "rejected"
    mismatches = verify_tally(document).mismatches
    assert [(m.field, m.published, m.recomputed) for m in mismatches] == [
        ("result.outcome", "rejected", "adopted")
    ]

    document = copy.deepcopy(original)
    document["result"]["counts"]["no"] = "3/1"
    assert [m.field for m in verify_tally(document).mismatches] == ["result.counts"]

    document = copy.deepcopy(original)
    document["inputsHash"] = "0" * 64
    assert [m.field for m in verify_tally(document).mismatches] == ["inputsHash"]


def test_unsupported_version_and_garbage() -> None:
    document = tally_document(sample_tally())
    document["algorithm"] = "bocage-tally/99"
    result = verify_tally(document)
    assert [(m.field, m.published) for m in result.mismatches] == [
        ("algorithm", "bocage-tally/99")
    ]

    for garbage in ({}, {"algorithm": ALGORITHM_VERSION}, [], "tally"):
        assert not verify_tally(garbage).ok  # type: ignore[arg-type]

    document = tally_document(sample_tally())
    document["electorate"]["weights"]["citizens"] = "2/4"  # not in lowest terms
    assert [m.field for m in verify_tally(document).mismatches] == ["document"]


# -- secret ballots --------------------------------------------------------------


def test_secret_document_hides_choices_and_verifies() -> None:
    t = sample_tally()
    document = tally_document(t, secret_key=KEY)

    assert "ballots" not in document
    assert all("choice" not in e for e in document["commitments"])
    # A voter handed their salt finds their ballot.
    mine = t.ballots[0]
    receipt = ballot_commitment(mine, ballot_salt(KEY, mine))
    assert document["commitments"][0]["commitment"] == receipt
    # The public and secret hashes differ: the secret one covers commitments.
    assert document["inputsHash"] != t.inputs_hash

    result = verify_tally(document)
    assert result.secret
    assert result.ok, result.mismatches


def test_secret_document_tampering_is_detected() -> None:
    original = tally_document(sample_tally(), secret_key=KEY)

    document = copy.deepcopy(original)
    commitment = document["commitments"][1]["commitment"]
    document["commitments"][1]["commitment"] = commitment[:-1] + (
        "0" if commitment[-1] != "0" else "1"
    )
    fields = {m.field for m in verify_tally(document).mismatches}
    assert fields == {"commitmentsHash", "inputsHash"}

    document = copy.deepcopy(original)
    document["result"]["outcome"] = "rejected"
    assert [m.field for m in verify_tally(document).mismatches] == ["result.outcome"]

    # Counts that do not add up to the counted weight (2 + 1 + 1/2 = 7/2).
    document = copy.deepcopy(original)
    document["result"]["counts"]["yes"] = "3/1"
    assert [m.field for m in verify_tally(document).mismatches] == ["result.counts"]

    # Counting the ineligible ballot (index 3) is visible without its content.
    document = copy.deepcopy(original)
    document["result"]["counted"].append(3)
    document["result"]["refused"] = []
    fields = {m.field for m in verify_tally(document).mismatches}
    assert "result.counted[3]" in fields


def test_ballot_that_cannot_be_published_is_refused_at_intake() -> None:
    with pytest.raises(TallyError):
        Ballot("urn:b", "urn:v", "c", OPEN, choice="object", reason="\ud800")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.data())
def test_verify_never_raises_on_a_damaged_document(
    secret: bool, data: st.DataObject
) -> None:
    document = tally_document(sample_tally(), secret_key=KEY if secret else None)
    original = json.dumps(document, sort_keys=True)
    paths = [p for p in all_paths(document) if p]
    path = data.draw(st.sampled_from(paths))
    *parents, last = path
    target: Any = document
    for step in parents:
        target = target[step]
    target[last] = data.draw(JSON)

    # Nothing raises, and any change is reported (json.dumps tells 0 from
    # False, which == does not).
    result = verify_tally(document)
    assert result.ok == (json.dumps(document, sort_keys=True) == original)


def all_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += all_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += all_paths(item, (*path, index))
    return found


def test_secret_key_must_be_long_enough() -> None:
    with pytest.raises(TallyError):
        tally_document(sample_tally(), secret_key=b"short")


# -- properties ------------------------------------------------------------------

VOTERS = [f"https://node.example/users/v{i}" for i in range(6)]
ELECTORATE = Electorate(
    {
        VOTERS[0]: "territories",
        VOTERS[1]: "territories",
        VOTERS[2]: "cooperatives",
        VOTERS[3]: "cooperatives",
        VOTERS[4]: "citizens",
    },
    WEIGHTS,
)
RULES: list[tuple[Rule, tuple[str, ...]]] = [
    (Majority(Fraction(1, 3)), YES_NO),
    (Majority(Fraction(1, 2), abstentions_count_for_quorum=False), ("yes", "no")),
    (Supermajority(Fraction(2, 3)), YES_NO),
    (Consent(), CONSENT_OPTIONS),
    (MajorityJudgment(GRADES), ("A", "B", "C")),
]
CHOICES = st.sampled_from([*YES_NO, "consent", "object", "A", "other"])
BALLOTS = st.lists(
    st.builds(
        Ballot,
        id=st.sampled_from([f"urn:ballot:{i}" for i in range(8)]),
        voter=st.sampled_from(VOTERS),
        college=st.sampled_from([*WEIGHTS, "members"]),
        cast_at=st.datetimes(
            min_value=CLOSE.replace(tzinfo=None) - timedelta(days=1),
            max_value=CLOSE.replace(tzinfo=None) + timedelta(hours=1),
            timezones=st.just(UTC),
        ),
        choice=st.none() | CHOICES,
        reason=st.none() | st.text(max_size=5),
        grades=st.none()
        | st.dictionaries(
            st.sampled_from(["A", "B", "C", "D"]),
            st.sampled_from([*GRADES, "bad"]),
            max_size=4,
        ),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(RULES), BALLOTS, st.randoms(use_true_random=False))
def test_random_ballots_tally_in_any_order_and_verify(
    setup: tuple[Rule, tuple[str, ...]], ballots: list[Ballot], random: Any
) -> None:
    rule, options = setup
    t = tally(rule, options, ballots, ELECTORATE, CLOSE)
    assert len(t.counted) + len(t.refused) == len(ballots)

    shuffled = list(ballots)
    random.shuffle(shuffled)
    document = tally_document(t)
    assert tally_document(tally(rule, options, shuffled, ELECTORATE, CLOSE)) == document

    result = verify_tally(document)
    assert result.ok, result.mismatches
    secret = verify_tally(tally_document(t, secret_key=KEY))
    assert secret.ok, secret.mismatches


def textbook_majority_judgment(
    options: list[str], judgments: dict[str, list[int]]
) -> list[str]:
    """Balinski-Laraki, written the slow way: each option's "majority value"
    is its sequence of lower medians as they are removed one by one; the
    winners have the lexicographically greatest sequence."""
    values = {}
    for option in options:
        remaining = sorted(judgments[option])
        sequence = []
        while remaining:
            sequence.append(remaining.pop((len(remaining) - 1) // 2))
        values[option] = sequence
    best = max(values.values())
    return [o for o in options if values[o] == best]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["territories", "cooperatives", "citizens", "members"]),
            st.lists(st.integers(0, 4), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_majority_judgment_matches_the_textbook(
    voters: list[tuple[str, list[int]]],
) -> None:
    options = ["A", "B", "C"]
    electorate = Electorate(
        {f"urn:v:{i}": college for i, (college, _) in enumerate(voters)}, WEIGHTS
    )
    ballots = [
        Ballot(
            f"urn:b:{i}",
            f"urn:v:{i}",
            college,
            OPEN,
            grades={o: GRADES[g] for o, g in zip(options, grades, strict=True)},
        )
        for i, (college, grades) in enumerate(voters)
    ]
    t = tally(MajorityJudgment(GRADES), options, ballots, electorate, CLOSE)

    # Expand each voter into weight / unit identical ballots ("members"
    # weigh 1), with unit the gcd of the counted weights.
    weights = [electorate.weight(c) for c, _ in voters]
    if any(w == Fraction(1, 2) for w in weights):
        unit = Fraction(1, 2)
    elif all(w == 2 for w in weights):
        unit = Fraction(2)
    else:
        unit = Fraction(1)
    judgments: dict[str, list[int]] = {o: [] for o in options}
    for (_, grades), weight in zip(voters, weights, strict=True):
        copies = int(weight / unit)
        for option, grade in zip(options, grades, strict=True):
            judgments[option] += [grade] * copies

    expected = textbook_majority_judgment(options, judgments)
    assert list(t.winners) == expected
    assert t.outcome == ("winner" if len(expected) == 1 else "tie")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(0, 2), min_size=1, max_size=30),
    st.integers(0, 29),
    st.integers(0, 2),
    st.randoms(use_true_random=False),
)
def test_majority_judgment_near_ties_match_the_textbook(
    base: list[int], where: int, grade: int, random: Any
) -> None:
    # B differs from A in one judgment, C is A shuffled: long shared
    # stretches of the majority value, then (maybe) one difference.
    near = list(base)
    near[where % len(base)] = grade
    shuffled = list(base)
    random.shuffle(shuffled)
    columns = {"A": base, "B": near, "C": shuffled}
    options = ["A", "B", "C"]
    ballots = [
        Ballot(
            f"urn:b:{i}",
            f"urn:v:{i}",
            "members",
            OPEN,
            grades={o: GRADES[columns[o][i]] for o in options},
        )
        for i in range(len(base))
    ]
    electorate = Electorate({f"urn:v:{i}": "members" for i in range(len(base))})
    t = tally(MajorityJudgment(GRADES), options, ballots, electorate, CLOSE)

    assert list(t.winners) == textbook_majority_judgment(options, columns)


def test_majority_judgment_with_tiny_weights_is_exact() -> None:
    # Unit = gcd(1, 1/997) = 1/997: the heavy voter is 997 units.  A and B
    # have the same judgments, so they tie through every one of the 998
    # removals; C is below them from the start.
    electorate = Electorate(
        {"urn:v:heavy": "founders", "urn:v:light": "friends"},
        {"founders": Fraction(1), "friends": Fraction(1, 997)},
    )
    ballots = [
        Ballot("urn:b:1", "urn:v:heavy", "founders", OPEN, grades={"A": G, "B": G}),
        Ballot("urn:b:2", "urn:v:light", "friends", OPEN, grades={"A": R, "B": R}),
    ]
    t = tally(MajorityJudgment(GRADES), ("A", "B", "C"), ballots, electorate, CLOSE)

    assert t.outcome == "tie"
    assert t.winners == ("A", "B")
    assert t.grade_counts["C"][R] == Fraction(998, 997)
    assert verify_tally(tally_document(t, secret_key=KEY)).ok
