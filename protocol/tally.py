"""Verifiable decision rules for governance proposals (DESIGN.md, "Governance").

A proposal is an ActivityStreams ``Question``; its rule is fixed when voting
opens.  :func:`tally` turns (rule, options, ballots, electorate, closes_at) into
a :class:`Tally`; :func:`tally_document` publishes it as plain JSON and
:func:`verify_tally` recomputes a published document.  Arithmetic is exact
(:class:`fractions.Fraction`); fractions are written as ``"n/d"`` strings in
lowest terms, always with a denominator (``"3/1"``).

Definitions (algorithm ``bocage-tally/1``):

Weights
    Every voter belongs to one college; a ballot weighs its college's weight
    (:attr:`Electorate.weights`, a positive Fraction; a college not listed
    weighs 1).  ``eligible_weight`` is the summed weight of every voter in the
    electorate, voted or not.  ``turnout`` = weight of counted ballots
    (abstentions included) / ``eligible_weight``.

Counting a ballot
    Ballots are put in canonical order: by ``cast_at``, then ``id``, then their
    canonical JSON.  Each is refused, in this order of checks, when its voter
    is not in the electorate or claims another college (``not-eligible``); it
    was cast at or after ``closes_at`` (``late``); it does not have the shape
    the rule asks for (``malformed``); it names an option that is not offered
    (``unknown-option``); its voter already has a counted ballot
    (``duplicate``).  So the first *valid* ballot of a voter counts: a refused
    ballot does not use up the voter's vote.

:class:`Majority`
    Choices ``yes``/``no`` (and ``abstain`` if offered).  The quorum is a
    fraction of ``eligible_weight``: it is reached when the participating
    weight is at least ``quorum × eligible_weight``; the participating weight
    counts abstentions only if ``abstentions_count_for_quorum``.  Without
    quorum the outcome is ``no-decision``; otherwise ``adopted`` iff
    yes > no (a tie is ``rejected``: the status quo stands).

:class:`Supermajority`
    As :class:`Majority`, but ``adopted`` iff yes ≥ threshold × (yes + no)
    and yes + no > 0: abstentions are not votes cast.  Two thirds exactly is
    enough for a threshold of 2/3.

:class:`Consent`
    Choices ``consent``/``object`` (and ``abstain`` if offered).  An objection
    is a ballot ``object`` with a non-blank ``reason``; one without a reason is
    refused as ``malformed``.  ``adopted`` iff no counted objection remains,
    including when nobody voted (consent is the absence of objection); there
    is no quorum.  The objections are reported.

:class:`MajorityJudgment`
    M. Balinski and R. Laraki, *Majority Judgment: Measuring, Ranking, and
    Electing*, MIT Press, 2011 (ch. 13-14), and "A theory of measuring,
    electing, and ranking", PNAS 104(21), 2007.  Every counted ballot judges
    every option; a missing judgment is the lowest grade.  The majority grade
    is the *lower* median: the lowest grade g such that the weight of grades
    ≤ g is at least half the total.  Options with the best majority grade are
    tied; from each tied option one median grade is removed, their majority
    grades are recomputed, and only the best stay tied; this repeats until
    one option is left (``winner``) or no grade is left (``tie``, listing
    them in the order of ``options``).  With weights, "one grade" is one
    *unit* of weight, the greatest common divisor u of the weights of the
    counted voters: a voter of weight w is w/u identical unit ballots.  When
    all counted voters weigh the same, u is that weight and the procedure is
    the textbook one.  No counted ballot gives ``no-decision``.

The inputs hash is the lowercase hex SHA-256 of the RFC 8785 (JCS) form of
``{"rule", "options", "electorate", "closesAt", "ballots"}`` with every
submitted ballot, in canonical order.

Secret ballots: :func:`tally_document` given a ``secret_key`` publishes, in
place of each ballot, its voter, college, ``castAt`` and a commitment
SHA-256(JCS({"ballot": …, "salt": hex})) with a per-ballot salt
HMAC-SHA256(secret_key, JCS(ballot)).  Who voted and when stays public; what
they chose does not.  A voter handed their salt as a receipt
(:func:`ballot_salt`) can recompute their commitment and find it.
``inputsHash`` then covers the commitments instead of the ballots (a hash of
plaintext ballots could be found by trying the few possible choices), and
``commitmentsHash`` chains them: h0 = SHA-256("bocage-tally/1"),
h_i = SHA-256(h_(i-1) || commitment_i).

A verifier of a secret tally CAN check: the chain and the inputs hash; the
canonical (``castAt``) order; that counted and refused ballots partition the
commitments; the ``not-eligible`` and ``late`` refusals and that no voter is
counted twice; eligible and participating weight and turnout; that each
option's counts add up to the counted weight; and the outcome, winners and
quorum from the published counts.  It CANNOT check that a count matches the
ballots, nor a ``malformed`` or ``unknown-option`` refusal, nor which of a
voter's ballots was the valid one; that needs the ballots and the key (an
auditor's job).  Objection reasons and refusal details are not published.

What this module does not check: that ballots really come from their voter
(signatures are checked by the inbox), that the electorate is the right one
at the opening of the vote, or that ``closes_at`` is the announced one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final, cast

import rfc8785

from protocol.errors import ProtocolError

__all__ = [
    "ABSTAIN",
    "ADOPTED",
    "ALGORITHM_VERSION",
    "CONSENT",
    "DUPLICATE",
    "LATE",
    "MALFORMED",
    "NO",
    "NOT_ELIGIBLE",
    "NO_DECISION",
    "OBJECT",
    "REJECTED",
    "SUPPORTED_VERSIONS",
    "TIE",
    "UNKNOWN_OPTION",
    "WINNER",
    "YES",
    "Ballot",
    "Consent",
    "Electorate",
    "Majority",
    "MajorityJudgment",
    "Mismatch",
    "RefusedBallot",
    "Rule",
    "Supermajority",
    "Tally",
    "TallyError",
    "VerifyResult",
    "ballot_commitment",
    "ballot_salt",
    "tally",
    "tally_document",
    "verify_tally",
]

ALGORITHM_VERSION: Final = "bocage-tally/1"
SUPPORTED_VERSIONS: Final = frozenset({ALGORITHM_VERSION})

YES: Final = "yes"
NO: Final = "no"
ABSTAIN: Final = "abstain"
CONSENT: Final = "consent"
OBJECT: Final = "object"

# Outcomes.
ADOPTED: Final = "adopted"
REJECTED: Final = "rejected"
NO_DECISION: Final = "no-decision"
WINNER: Final = "winner"
TIE: Final = "tie"

# Refusal reasons.
NOT_ELIGIBLE: Final = "not-eligible"
LATE: Final = "late"
MALFORMED: Final = "malformed"
UNKNOWN_OPTION: Final = "unknown-option"
DUPLICATE: Final = "duplicate"

_REASONS: Final = frozenset({NOT_ELIGIBLE, LATE, MALFORMED, UNKNOWN_OPTION, DUPLICATE})

_FRACTION = re.compile(r"[0-9]+/[0-9]+")  # nothing here is negative
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")


class TallyError(ProtocolError):
    """A rule, electorate or published tally is not well formed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- inputs -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Majority:
    """Simple majority of yes over no, with a quorum (see the module docstring).

    ``quorum`` is a fraction of the eligible weight, in [0, 1]; 0 means none.
    """

    quorum: Fraction = Fraction(0)
    abstentions_count_for_quorum: bool = True


@dataclass(frozen=True, slots=True)
class Supermajority:
    """Adopted when yes ≥ ``threshold`` × (yes + no); abstentions excluded."""

    threshold: Fraction = Fraction(2, 3)
    quorum: Fraction = Fraction(0)
    abstentions_count_for_quorum: bool = True


@dataclass(frozen=True, slots=True)
class Consent:
    """Adopted when no counted ballot is a reasoned objection."""


@dataclass(frozen=True, slots=True)
class MajorityJudgment:
    """Balinski-Laraki majority judgment; ``grades`` go from worst to best."""

    grades: tuple[str, ...]


Rule = Majority | Supermajority | Consent | MajorityJudgment


@dataclass(frozen=True, slots=True)
class Ballot:
    """One submitted ballot, as received (valid or not).

    Yes/no and consent rules use ``choice`` (and ``reason`` for an objection);
    majority judgment uses ``grades`` (option → grade).  Construction raises
    :class:`TallyError` if ``cast_at`` is naive or the ballot cannot be
    written as JCS; any other oddity is left for :func:`tally` to refuse.
    """

    id: str
    voter: str
    college: str
    cast_at: datetime
    choice: str | None = None
    reason: str | None = None
    grades: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.cast_at.tzinfo is None:
            raise TallyError("ballot cast_at must be timezone-aware")
        # A ballot that JCS cannot write (a lone surrogate from a "\\ud800"
        # escape) could be neither hashed nor published: refuse it at intake.
        _canonical(_ballot_json(self))


@dataclass(frozen=True, slots=True)
class Electorate:
    """Eligible voters (IRI → college) and college weights (default 1)."""

    voters: Mapping[str, str]
    weights: Mapping[str, Fraction] = field(default_factory=dict)

    def weight(self, college: str) -> Fraction:
        """Return the weight of one ballot from ``college``."""
        return self.weights.get(college, Fraction(1))


@dataclass(frozen=True, slots=True)
class RefusedBallot:
    """A ballot that was not counted, and why."""

    index: int  # position in Tally.ballots
    ballot: Ballot
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Tally:
    """The result of :func:`tally`; publish it with :func:`tally_document`."""

    rule: Rule
    options: tuple[str, ...]
    electorate: Electorate
    closes_at: datetime
    ballots: tuple[Ballot, ...]  # every submitted ballot, canonical order
    counted: tuple[Ballot, ...]
    counted_indices: tuple[int, ...]  # positions of ``counted`` in ``ballots``
    refused: tuple[RefusedBallot, ...]
    outcome: str
    winners: tuple[str, ...]  # the winner, or the tied options (MJ only)
    counts: Mapping[str, Fraction]  # weight per choice (yes/no, consent)
    grade_counts: Mapping[str, Mapping[str, Fraction]]  # option → grade → weight
    majority_grades: Mapping[str, str]  # option → lower median grade (MJ)
    objections: tuple[Ballot, ...]  # counted reasoned objections (consent)
    quorum_reached: bool
    eligible_weight: Fraction
    participating_weight: Fraction
    turnout: Fraction
    inputs_hash: str
    algorithm: str = ALGORITHM_VERSION


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One published value that verification could not reproduce."""

    field: str
    published: object
    recomputed: object


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :func:`verify_tally` found; ``ok`` iff there is no mismatch."""

    secret: bool
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


# -- serialisation ------------------------------------------------------------


def _canonical(value: object) -> bytes:
    try:
        return rfc8785.dumps(cast("Any", value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise TallyError(f"value cannot be canonicalised: {exc}") from exc
    except RecursionError as exc:
        raise TallyError("value is nested too deeply to canonicalise") from exc


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fraction_json(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _instant_json(moment: datetime) -> str:
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def _rule_json(rule: Rule) -> dict[str, Any]:
    match rule:
        case Majority():
            return {
                "type": "Majority",
                "quorum": _fraction_json(rule.quorum),
                "abstentionsCountForQuorum": rule.abstentions_count_for_quorum,
            }
        case Supermajority():
            return {
                "type": "Supermajority",
                "threshold": _fraction_json(rule.threshold),
                "quorum": _fraction_json(rule.quorum),
                "abstentionsCountForQuorum": rule.abstentions_count_for_quorum,
            }
        case Consent():
            return {"type": "Consent"}
        case MajorityJudgment():
            return {"type": "MajorityJudgment", "grades": list(rule.grades)}


def _electorate_json(electorate: Electorate) -> dict[str, Any]:
    return {
        "voters": dict(electorate.voters),
        "weights": {k: _fraction_json(v) for k, v in electorate.weights.items()},
    }


def _ballot_json(ballot: Ballot) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ballot.id,
        "voter": ballot.voter,
        "college": ballot.college,
        "castAt": _instant_json(ballot.cast_at),
    }
    if ballot.choice is not None:
        out["choice"] = ballot.choice
    if ballot.reason is not None:
        out["reason"] = ballot.reason
    if ballot.grades is not None:
        out["grades"] = dict(ballot.grades)
    return out


def _inputs_hash(
    rule: Rule,
    options: Sequence[str],
    electorate: Electorate,
    closes_at: datetime,
    entries: tuple[str, list[Any]],
) -> str:
    inputs = {
        "rule": _rule_json(rule),
        "options": list(options),
        "electorate": _electorate_json(electorate),
        "closesAt": _instant_json(closes_at),
        entries[0]: entries[1],
    }
    return _sha256_hex(_canonical(inputs))


def ballot_salt(secret_key: bytes, ballot: Ballot) -> bytes:
    """Return the salt of ``ballot``'s commitment: HMAC-SHA256(key, JCS(ballot))."""
    return hmac.new(secret_key, _canonical(_ballot_json(ballot)), "sha256").digest()


def ballot_commitment(ballot: Ballot, salt: bytes) -> str:
    """Return SHA-256 (hex) of JCS({"ballot": ballot, "salt": hex(salt)})."""
    payload = {"ballot": _ballot_json(ballot), "salt": salt.hex()}
    return _sha256_hex(_canonical(payload))


def _commitments_chain(commitments: Sequence[str]) -> str:
    # h0 = SHA-256(version); h_i = SHA-256(h_{i-1} || commitment_i).
    head = hashlib.sha256(ALGORITHM_VERSION.encode()).digest()
    for commitment in commitments:
        head = hashlib.sha256(head + bytes.fromhex(commitment)).digest()
    return head.hex()


# -- checks on the set-up -----------------------------------------------------


def _check_setup(
    rule: Rule, options: Sequence[str], electorate: Electorate, closes_at: datetime
) -> None:
    if closes_at.tzinfo is None:
        raise TallyError("closes_at must be timezone-aware")
    if len(set(options)) != len(options):
        raise TallyError("options must be distinct")
    for college, weight in electorate.weights.items():
        if weight <= 0:
            raise TallyError(f"college {college!r} must weigh more than 0")

    match rule:
        case Majority() | Supermajority():
            _check_choices(options, required={YES, NO}, allowed={YES, NO, ABSTAIN})
            if not 0 <= rule.quorum <= 1:
                raise TallyError("quorum must be between 0 and 1")
            if isinstance(rule, Supermajority) and not 0 < rule.threshold <= 1:
                raise TallyError("threshold must be in (0, 1]")
        case Consent():
            _check_choices(
                options, required={CONSENT, OBJECT}, allowed={CONSENT, OBJECT, ABSTAIN}
            )
        case MajorityJudgment():
            if not options:
                raise TallyError("majority judgment needs at least one option")
            if len(rule.grades) < 2 or len(set(rule.grades)) != len(rule.grades):
                raise TallyError("majority judgment needs two or more distinct grades")


def _check_choices(
    options: Sequence[str], *, required: set[str], allowed: set[str]
) -> None:
    if not required <= set(options) <= allowed:
        raise TallyError(
            f"options must include {sorted(required)} and be among {sorted(allowed)}"
        )


def _shape_error(rule: Rule, options: Sequence[str], ballot: Ballot) -> tuple[str, str]:
    """Return (reason, detail) if ``ballot`` cannot be counted under ``rule``."""
    if isinstance(rule, MajorityJudgment):
        if ballot.grades is None or ballot.choice is not None:
            return MALFORMED, "majority judgment ballots carry grades only"
        for option, grade in ballot.grades.items():
            if option not in options:
                return UNKNOWN_OPTION, option
            if grade not in rule.grades:
                return MALFORMED, f"unknown grade {grade!r}"
        return "", ""

    if ballot.grades is not None or ballot.choice is None:
        return MALFORMED, "this rule expects one choice"
    if ballot.choice not in options:
        return UNKNOWN_OPTION, ballot.choice
    if ballot.choice == OBJECT and not (ballot.reason or "").strip():
        return MALFORMED, "an objection must give a reason"
    return "", ""


# -- deciding from the counts -------------------------------------------------


def _gcd(weights: Sequence[Fraction]) -> Fraction:
    # gcd of reduced fractions a_i/b_i = gcd(a_i) / lcm(b_i).
    return Fraction(
        math.gcd(*(w.numerator for w in weights)),
        math.lcm(*(w.denominator for w in weights)),
    )


def _lower_median(units: Sequence[int], total: int) -> int:
    """Index of the lowest grade whose cumulative count is at least half."""
    cumulative = 0
    for index, count in enumerate(units):
        cumulative += count
        if 2 * cumulative >= total:
            return index
    raise AssertionError("no median in an empty profile")


def _grade_at(cumulative: Sequence[int], position: int) -> int:
    # The grade at ``position`` (0-based) of the sorted judgments.
    return next(g for g, upto in enumerate(cumulative) if upto > position)


def _compare_majority_values(
    first: Sequence[int], second: Sequence[int], total: int
) -> int:
    """Compare two options' majority values: -1, 0 or 1 (Balinski-Laraki).

    The majority value is the sequence of lower medians met while removing
    them one at a time.  On the sorted judgments a[0..n-1] those removals
    spiral out from the middle: for n = 2m+1 they are a[m], a[m-1], a[m+1],
    a[m-2], …; for n = 2m, a[m-1], a[m], a[m-2], a[m+1], ….  So two majority
    values first differ at the first sorted position, on either side of the
    middle, where the two options' sorted judgments differ; positions where
    they differ are where one option's cumulative counts step past another
    grade than the other's.  This needs O(grades) work, not O(voters).
    """
    cum_a = [sum(first[: g + 1]) for g in range(len(first))]
    cum_b = [sum(second[: g + 1]) for g in range(len(second))]
    # a_A[p] != a_B[p] exactly for p in some [min(cA, cB), max(cA, cB)).
    spans = [(min(x, y), max(x, y)) for x, y in zip(cum_a, cum_b, strict=True)]
    spans = [(lo, hi) for lo, hi in spans if lo < hi]
    if not spans:
        return 0

    odd = total % 2 == 1
    down_start = (total - 1) // 2  # a[m] if n is odd, a[m-1] if even
    up_start = total // 2  # a[m] in both cases
    candidates: list[tuple[int, int]] = []  # (step in the sequence, position)
    below = [min(hi - 1, down_start) for lo, hi in spans if lo <= down_start]
    if below:
        k = down_start - max(below)
        candidates.append(((2 * k - 1 if k else 0) if odd else 2 * k, down_start - k))
    above = [max(lo, up_start) for lo, hi in spans if hi - 1 >= up_start]
    if above:
        k = min(above) - up_start
        candidates.append((2 * k if odd else 2 * k + 1, up_start + k))

    position = min(candidates)[1]
    grade_a, grade_b = _grade_at(cum_a, position), _grade_at(cum_b, position)
    return (grade_a > grade_b) - (grade_a < grade_b)


def _mj_best(options: Sequence[str], profile: Mapping[str, list[int]]) -> list[str]:
    """Options whose majority value is greatest (several if they tie)."""
    total = sum(profile[options[0]])
    best = [options[0]]
    for option in options[1:]:
        order = _compare_majority_values(profile[option], profile[best[0]], total)
        if order > 0:
            best = [option]
        elif order == 0:
            best.append(option)
    return best


@dataclass(frozen=True, slots=True)
class _Decision:
    outcome: str
    winners: tuple[str, ...]
    quorum_reached: bool
    majority_grades: dict[str, str]


def _decide(
    rule: Rule,
    options: Sequence[str],
    counts: Mapping[str, Fraction],
    grade_counts: Mapping[str, Mapping[str, Fraction]],
    eligible_weight: Fraction,
    unit: Fraction | None,
) -> _Decision:
    """Apply ``rule`` to aggregated weights (shared by tally and verification)."""
    if isinstance(rule, Majority | Supermajority):
        yes, no = counts.get(YES, Fraction(0)), counts.get(NO, Fraction(0))
        present = yes + no
        if rule.abstentions_count_for_quorum:
            present += counts.get(ABSTAIN, Fraction(0))
        quorum = present >= rule.quorum * eligible_weight
        if not quorum:
            outcome = NO_DECISION
        elif isinstance(rule, Majority):
            outcome = ADOPTED if yes > no else REJECTED
        else:
            passed = yes + no > 0 and yes >= rule.threshold * (yes + no)
            outcome = ADOPTED if passed else REJECTED
        return _Decision(outcome, (), quorum, {})

    if isinstance(rule, Consent):
        objected = counts.get(OBJECT, Fraction(0)) > 0
        return _Decision(REJECTED if objected else ADOPTED, (), True, {})

    if unit is None:
        return _Decision(NO_DECISION, (), True, {})
    profile: dict[str, list[int]] = {}
    for option in options:
        row: list[int] = []
        for grade in rule.grades:
            amount = grade_counts[option][grade] / unit
            if amount.denominator != 1:
                raise TallyError(f"count of {option!r} is not a whole number of units")
            row.append(int(amount))
        profile[option] = row
    total = sum(profile[options[0]])
    if total == 0:
        return _Decision(NO_DECISION, (), True, {})
    if any(sum(row) != total for row in profile.values()):
        raise TallyError("options are not judged by the same weight")
    majority = {o: rule.grades[_lower_median(profile[o], total)] for o in options}
    best = _mj_best(options, profile)
    outcome = WINNER if len(best) == 1 else TIE
    return _Decision(outcome, tuple(best), True, majority)


# -- tally ----------------------------------------------------------------------


def _ballot_key(ballot: Ballot) -> tuple[datetime, str, bytes]:
    return (ballot.cast_at, ballot.id, _canonical(_ballot_json(ballot)))


def tally(
    rule: Rule,
    options: Sequence[str],
    ballots: Sequence[Ballot],
    electorate: Electorate,
    closes_at: datetime,
) -> Tally:
    """Count ``ballots`` under ``rule`` (definitions in the module docstring).

    Raises :class:`TallyError` only for a bad set-up (rule, options,
    electorate, closes_at); a bad ballot is refused with a reason, not raised.
    """
    _check_setup(rule, options, electorate, closes_at)
    options = tuple(options)
    ordered = tuple(sorted(ballots, key=_ballot_key))

    counted: list[Ballot] = []
    counted_indices: list[int] = []
    refused: list[RefusedBallot] = []
    voted: set[str] = set()
    for position, ballot in enumerate(ordered):
        if electorate.voters.get(ballot.voter) != ballot.college:
            reason, detail = NOT_ELIGIBLE, ""
        elif ballot.cast_at >= closes_at:
            reason, detail = LATE, ""
        else:
            reason, detail = _shape_error(rule, options, ballot)
        if not reason and ballot.voter in voted:
            reason = DUPLICATE
        if reason:
            refused.append(RefusedBallot(position, ballot, reason, detail))
            continue
        voted.add(ballot.voter)
        counted.append(ballot)
        counted_indices.append(position)

    counts: dict[str, Fraction] = {}
    grade_counts: dict[str, dict[str, Fraction]] = {}
    if isinstance(rule, MajorityJudgment):
        grade_counts = {o: dict.fromkeys(rule.grades, Fraction(0)) for o in options}
        lowest = rule.grades[0]
        for ballot in counted:
            weight = electorate.weight(ballot.college)
            given = ballot.grades or {}
            for option in options:
                grade_counts[option][given.get(option, lowest)] += weight
    else:
        counts = dict.fromkeys(options, Fraction(0))
        for ballot in counted:
            assert ballot.choice is not None
            counts[ballot.choice] += electorate.weight(ballot.college)

    weights = [electorate.weight(b.college) for b in counted]
    eligible = sum(
        (electorate.weight(c) for c in electorate.voters.values()), Fraction(0)
    )
    participating = sum(weights, Fraction(0))
    unit = _gcd(weights) if weights else None
    decision = _decide(rule, options, counts, grade_counts, eligible, unit)

    return Tally(
        rule=rule,
        options=options,
        electorate=electorate,
        closes_at=closes_at,
        ballots=ordered,
        counted=tuple(counted),
        counted_indices=tuple(counted_indices),
        refused=tuple(refused),
        outcome=decision.outcome,
        winners=decision.winners,
        counts=counts,
        grade_counts=grade_counts,
        majority_grades=decision.majority_grades,
        objections=tuple(b for b in counted if b.choice == OBJECT),
        quorum_reached=decision.quorum_reached,
        eligible_weight=eligible,
        participating_weight=participating,
        turnout=participating / eligible if eligible else Fraction(0),
        inputs_hash=_inputs_hash(
            rule,
            options,
            electorate,
            closes_at,
            ("ballots", [_ballot_json(b) for b in ordered]),
        ),
    )


# -- publishing -----------------------------------------------------------------


def tally_document(t: Tally, *, secret_key: bytes | None = None) -> dict[str, Any]:
    """Return the published form of ``t``: plain, stable JSON.

    With ``secret_key`` (16 bytes or more) the ballots are replaced by
    commitments and objection reasons and refusal details are left out; see
    the module docstring for what a reader can still verify.
    """
    result: dict[str, Any] = {
        "outcome": t.outcome,
        "winners": list(t.winners),
        "quorumReached": t.quorum_reached,
        "eligibleWeight": _fraction_json(t.eligible_weight),
        "participatingWeight": _fraction_json(t.participating_weight),
        "turnout": _fraction_json(t.turnout),
        "counted": list(t.counted_indices),
        "refused": [
            {"index": r.index, "reason": r.reason}
            | ({"detail": r.detail} if r.detail and secret_key is None else {})
            for r in t.refused
        ],
    }
    if isinstance(t.rule, MajorityJudgment):
        result["gradeCounts"] = {
            o: {g: _fraction_json(w) for g, w in grades.items()}
            for o, grades in t.grade_counts.items()
        }
        result["majorityGrades"] = dict(t.majority_grades)
    else:
        result["counts"] = {c: _fraction_json(w) for c, w in t.counts.items()}
    if isinstance(t.rule, Consent) and secret_key is None:
        result["objections"] = [
            {"index": i, "reason": b.reason}
            for i, b in zip(t.counted_indices, t.counted, strict=True)
            if b.choice == OBJECT
        ]

    document: dict[str, Any] = {
        "algorithm": t.algorithm,
        "rule": _rule_json(t.rule),
        "options": list(t.options),
        "electorate": _electorate_json(t.electorate),
        "closesAt": _instant_json(t.closes_at),
    }
    if secret_key is None:
        document["ballots"] = [_ballot_json(b) for b in t.ballots]
        document["inputsHash"] = t.inputs_hash
    else:
        if len(secret_key) < 16:
            raise TallyError("secret_key must be at least 16 bytes")
        entries = [
            {
                "voter": b.voter,
                "college": b.college,
                "castAt": _instant_json(b.cast_at),
                "commitment": ballot_commitment(b, ballot_salt(secret_key, b)),
            }
            for b in t.ballots
        ]
        document["commitments"] = entries
        document["commitmentsHash"] = _commitments_chain(
            [e["commitment"] for e in entries]
        )
        document["inputsHash"] = _inputs_hash(
            t.rule,
            t.options,
            t.electorate,
            t.closes_at,
            ("commitments", entries),
        )
    document["result"] = result
    return document


# -- parsing a published document ---------------------------------------------


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TallyError(f"{what} must be a string")
    return value


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TallyError(f"{what} must be an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TallyError(f"{what} must be an array")
    return value


def _parse_fraction(value: object, what: str) -> Fraction:
    text = _str(value, what)
    if not _FRACTION.fullmatch(text) or text.split("/")[1].lstrip("0") == "":
        raise TallyError(f"{what} must be a fraction n/d")
    number = Fraction(text)
    if _fraction_json(number) != text:
        raise TallyError(f"{what} is not in lowest terms: {text!r}")
    return number


def _parse_instant(value: object, what: str) -> datetime:
    text = _str(value, what)
    if not _INSTANT.fullmatch(text):
        raise TallyError(f"{what} must be YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise TallyError(f"{what} is not a date-time: {text!r}") from exc


def _parse_rule(value: object) -> Rule:
    data = _object(value, "rule")
    kind = data.get("type")
    expected: dict[str, set[str]] = {
        "Majority": {"type", "quorum", "abstentionsCountForQuorum"},
        "Supermajority": {"type", "threshold", "quorum", "abstentionsCountForQuorum"},
        "Consent": {"type"},
        "MajorityJudgment": {"type", "grades"},
    }
    if not isinstance(kind, str) or kind not in expected:
        raise TallyError(f"unknown rule type {kind!r}")
    if set(data) != expected[kind]:
        raise TallyError(f"rule {kind} must have exactly {sorted(expected[kind])}")
    if kind == "Consent":
        return Consent()
    if kind == "MajorityJudgment":
        grades = _list(data["grades"], "rule grades")
        return MajorityJudgment(tuple(_str(g, "grade") for g in grades))
    flag = data["abstentionsCountForQuorum"]
    if not isinstance(flag, bool):
        raise TallyError("abstentionsCountForQuorum must be a boolean")
    quorum = _parse_fraction(data["quorum"], "quorum")
    if kind == "Majority":
        return Majority(quorum, flag)
    return Supermajority(_parse_fraction(data["threshold"], "threshold"), quorum, flag)


def _parse_electorate(value: object) -> Electorate:
    data = _object(value, "electorate")
    if set(data) != {"voters", "weights"}:
        raise TallyError("electorate must have exactly voters and weights")
    voters = {
        _str(k, "voter"): _str(v, "college")
        for k, v in _object(data["voters"], "voters").items()
    }
    weights = {
        _str(k, "college"): _parse_fraction(v, "weight")
        for k, v in _object(data["weights"], "weights").items()
    }
    return Electorate(voters, weights)


def _parse_ballot(value: object) -> Ballot:
    data = _object(value, "ballot")
    allowed = {"id", "voter", "college", "castAt", "choice", "reason", "grades"}
    if not {"id", "voter", "college", "castAt"} <= set(data) <= allowed:
        raise TallyError(f"ballot members must be among {sorted(allowed)}")
    grades = None
    if "grades" in data:
        grades = {
            _str(k, "option"): _str(v, "grade")
            for k, v in _object(data["grades"], "grades").items()
        }
    return Ballot(
        id=_str(data["id"], "ballot id"),
        voter=_str(data["voter"], "ballot voter"),
        college=_str(data["college"], "ballot college"),
        cast_at=_parse_instant(data["castAt"], "ballot castAt"),
        choice=_str(data["choice"], "choice") if "choice" in data else None,
        reason=_str(data["reason"], "reason") if "reason" in data else None,
        grades=grades,
    )


# -- verification ---------------------------------------------------------------


def _compare(
    mismatches: list[Mismatch], name: str, published: object, recomputed: object
) -> None:
    # Compare as canonical JSON: in Python, False == 0 and 1 == 1.0.
    try:
        same = _canonical(published) == _canonical(recomputed)
    except TallyError:
        same = False
    if not same:
        mismatches.append(Mismatch(name, published, recomputed))


def verify_tally(document: Mapping[str, Any]) -> VerifyResult:
    """Recompute a published tally and list every value that differs.

    A public document is recomputed in full from its inputs: the inputs hash,
    then every member of ``result``.  A secret one (``commitments`` instead
    of ``ballots``) is checked as far as commitments allow (module
    docstring).  A malformed document or an unsupported algorithm is
    reported as a mismatch on ``document`` or ``algorithm``; nothing raises.
    """
    secret = isinstance(document, Mapping) and "commitments" in document
    mismatches: list[Mismatch] = []
    try:
        data = _object(document, "document")
        version = data.get("algorithm")
        if not isinstance(version, str) or version not in SUPPORTED_VERSIONS:
            mismatches.append(Mismatch("algorithm", version, ALGORITHM_VERSION))
            return VerifyResult(secret, tuple(mismatches))
        rule = _parse_rule(data.get("rule"))
        options = tuple(
            _str(o, "option") for o in _list(data.get("options"), "options")
        )
        electorate = _parse_electorate(data.get("electorate"))
        closes_at = _parse_instant(data.get("closesAt"), "closesAt")
        published = _object(data.get("result"), "result")
        if secret:
            _verify_secret(data, rule, options, electorate, closes_at, mismatches)
        else:
            ballots = [_parse_ballot(b) for b in _list(data.get("ballots"), "ballots")]
            recomputed = tally_document(
                tally(rule, options, ballots, electorate, closes_at)
            )
            _compare(
                mismatches,
                "inputsHash",
                data.get("inputsHash"),
                recomputed["inputsHash"],
            )
            _compare(mismatches, "ballots", data.get("ballots"), recomputed["ballots"])
            expected = recomputed["result"]
            for key in sorted(set(expected) | set(published)):
                _compare(
                    mismatches, f"result.{key}", published.get(key), expected.get(key)
                )
    except TallyError as exc:
        mismatches.append(Mismatch("document", exc.reason, None))
    return VerifyResult(secret, tuple(mismatches))


def _verify_secret(
    data: Mapping[str, Any],
    rule: Rule,
    options: tuple[str, ...],
    electorate: Electorate,
    closes_at: datetime,
    mismatches: list[Mismatch],
) -> None:
    _check_setup(rule, options, electorate, closes_at)
    entries = _list(data.get("commitments"), "commitments")
    commitments: list[str] = []
    voters: list[tuple[str, str, datetime]] = []
    for entry in entries:
        item = _object(entry, "commitment")
        if set(item) != {"voter", "college", "castAt", "commitment"}:
            raise TallyError("commitment entries need voter, college, castAt")
        digest = _str(item["commitment"], "commitment")
        if not _HEX64.fullmatch(digest):
            raise TallyError("commitment must be 64 lowercase hex digits")
        commitments.append(digest)
        voters.append(
            (
                _str(item["voter"], "voter"),
                _str(item["college"], "college"),
                _parse_instant(item["castAt"], "castAt"),
            )
        )

    _compare(
        mismatches,
        "commitmentsHash",
        data.get("commitmentsHash"),
        _commitments_chain(commitments),
    )
    _compare(
        mismatches,
        "inputsHash",
        data.get("inputsHash"),
        _inputs_hash(
            rule, options, electorate, closes_at, ("commitments", list(entries))
        ),
    )
    if any(a[2] > b[2] for a, b in pairwise(voters)):
        mismatches.append(Mismatch("commitments", "not in castAt order", None))

    result = _object(data.get("result"), "result")
    members = {
        "outcome",
        "winners",
        "quorumReached",
        "eligibleWeight",
        "participatingWeight",
        "turnout",
        "counted",
        "refused",
    }
    if isinstance(rule, MajorityJudgment):
        members |= {"gradeCounts", "majorityGrades"}
    else:
        members.add("counts")
    _compare(mismatches, "result", sorted(result), sorted(members))
    counted = [_index(i, len(voters)) for i in _list(result.get("counted"), "counted")]
    refused: dict[int, str] = {}
    for entry in _list(result.get("refused"), "refused"):
        item = _object(entry, "refused")
        index = _index(item.get("index"), len(voters))
        refused[index] = _str(item.get("reason"), "reason")
    if sorted(counted + list(refused)) != list(range(len(voters))):
        mismatches.append(Mismatch("result.counted", "not a partition", None))

    # Eligibility and lateness are visible without the ballots.
    seen: set[str] = set()
    for i in counted:
        voter, college, cast_at = voters[i]
        if electorate.voters.get(voter) != college or cast_at >= closes_at:
            mismatches.append(Mismatch(f"result.counted[{i}]", voter, "refused"))
        if voter in seen:
            mismatches.append(Mismatch(f"result.counted[{i}]", voter, DUPLICATE))
        seen.add(voter)
    first = {voters[i][0]: voters[i][2] for i in reversed(counted)}
    for i, reason in refused.items():
        voter, college, cast_at = voters[i]
        eligible = electorate.voters.get(voter) == college
        expected = {
            NOT_ELIGIBLE: not eligible,
            LATE: eligible and cast_at >= closes_at,
            DUPLICATE: voter in first and first[voter] <= cast_at,
        }.get(reason, eligible and cast_at < closes_at)
        if reason not in _REASONS or not expected:
            mismatches.append(Mismatch(f"result.refused[{i}]", reason, None))

    # Totals: what was counted must add up, and the outcome must follow.
    weights = [electorate.weight(voters[i][1]) for i in counted]
    participating = sum(weights, Fraction(0))
    eligible_weight = sum(
        (electorate.weight(c) for c in electorate.voters.values()), Fraction(0)
    )
    turnout = participating / eligible_weight if eligible_weight else Fraction(0)
    _compare(
        mismatches,
        "result.eligibleWeight",
        result.get("eligibleWeight"),
        _fraction_json(eligible_weight),
    )
    _compare(
        mismatches,
        "result.participatingWeight",
        result.get("participatingWeight"),
        _fraction_json(participating),
    )
    _compare(
        mismatches, "result.turnout", result.get("turnout"), _fraction_json(turnout)
    )

    counts: dict[str, Fraction] = {}
    grade_counts: dict[str, dict[str, Fraction]] = {}
    if isinstance(rule, MajorityJudgment):
        table = _object(result.get("gradeCounts"), "gradeCounts")
        if set(table) != set(options):
            raise TallyError("gradeCounts must list every option")
        for option in options:
            row = _object(table[option], "gradeCounts row")
            if set(row) != set(rule.grades):
                raise TallyError("gradeCounts rows must list every grade")
            grade_counts[option] = {
                g: _parse_fraction(row[g], "grade count") for g in rule.grades
            }
            total = sum(grade_counts[option].values(), Fraction(0))
            _compare(
                mismatches,
                f"result.gradeCounts.{option}",
                _fraction_json(total),
                _fraction_json(participating),
            )
    else:
        table = _object(result.get("counts"), "counts")
        if set(table) != set(options):
            raise TallyError("counts must list every option")
        counts = {o: _parse_fraction(table[o], "count") for o in options}
        _compare(
            mismatches,
            "result.counts",
            _fraction_json(sum(counts.values(), Fraction(0))),
            _fraction_json(participating),
        )
    if any(
        m.field.startswith(("result.counts", "result.gradeCounts")) for m in mismatches
    ):
        return  # counts that do not add up cannot be decided on

    decision = _decide(
        rule,
        options,
        counts,
        grade_counts,
        eligible_weight,
        _gcd(weights) if weights else None,
    )
    _compare(mismatches, "result.outcome", result.get("outcome"), decision.outcome)
    _compare(
        mismatches, "result.winners", result.get("winners"), list(decision.winners)
    )
    _compare(
        mismatches,
        "result.quorumReached",
        result.get("quorumReached"),
        decision.quorum_reached,
    )
    if isinstance(rule, MajorityJudgment):
        _compare(
            mismatches,
            "result.majorityGrades",
            result.get("majorityGrades"),
            decision.majority_grades,
        )


def _index(value: object, size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise TallyError("ballot index out of range")
    return value
