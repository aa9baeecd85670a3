"""Evaluate the ODRL 2.2 policies Bocage publishes, and read them back.

A service offer's contract (:class:`protocol.records.Offer`) is published by
:mod:`protocol.dcat` as an ODRL 2.2 ``odrl:Offer`` plus the Bocage profile
(time zone, opening hours, quotas, authentication, transport).  This module
answers "may this request go through, and if not, why?" for that contract:

- :func:`evaluate` takes an :class:`AccessRequest` (what the node knows about
  one call) and returns a :class:`Decision` with an HTTP status, a one-line
  reason and the name of the constraint that failed;
- :func:`period_window`, :func:`in_hours` and :func:`next_opening` are the
  calendar arithmetic behind quotas and opening hours;
- :func:`offer_from_policy` reads an ``odrl:hasPolicy`` document (plain JSON
  as :func:`protocol.dcat.service_record` emits it) back into an ``Offer``;
- :func:`narrower_or_equal` tells whether a requested contract asks for no
  more than an offered one (Dataspace Protocol: request → agreement).

Check order in :func:`evaluate`, first failure wins::

    transport → authentication → action → prohibition → dateTime
      → recipient → purpose → spatial → count → hours → quota

Transport comes first so that a 401 never invites a caller to send credentials
over a channel the offer refuses.  Duties (ODRL 2.2 §2.8) are obligations the
assignee takes on; they are reported elsewhere and *not* enforced here.

Errors: :class:`PolicyError` (a :class:`~protocol.errors.ProtocolError`) for a
malformed policy document or an unsupported quota period.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from protocol.errors import ProtocolError
from protocol.records import (
    AUDIENCE_TERMS,
    AUTHENTICATION_TERMS,
    AUTO_ACCEPT_TERMS,
    DUTY_ACTION_TERMS,
    QUOTA_UNIT_TERMS,
    TRANSPORT_TERMS,
    Constraint,
    Hours,
    Offer,
    Quota,
    Rule,
)

__all__ = [
    "INCLUDED_IN",
    "AccessRequest",
    "Decision",
    "PolicyError",
    "evaluate",
    "in_hours",
    "narrower_or_equal",
    "next_opening",
    "offer_from_policy",
    "period_window",
    "quota_key",
]


class PolicyError(ProtocolError):
    """A policy document or one of its terms cannot be read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- requests and decisions ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What the node knows about one call when it enforces an offer.

    ``period_uses`` holds what was already used in the *current* window of
    each quota, keyed by :func:`quota_key`: the period string (``"P1D"``) for
    request quotas, ``"<period>/byte"`` (``"P1D/byte"``) for byte quotas, so a
    request quota and a byte quota on the same period do not share a counter.
    A call costs 1 against every request quota and ``units`` (its size in
    bytes, when known before serving it; 0 when not) against byte quotas.
    ``total_uses`` counts the uses already made under the agreement (for
    ``odrl:count``), not including this one.  The caller, authentication
    method and transport have no defaults: forgetting one must not pass.
    """

    action: str
    at: datetime
    caller: str | None
    authentication: str
    secure: bool
    purpose: str | None = None
    spatial: str | None = None
    recipient_groups: frozenset[str] = frozenset()
    total_uses: int = 0
    period_uses: Mapping[str, int] = field(default_factory=dict)
    units: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :func:`evaluate`: an HTTP status and why."""

    permitted: bool
    status: int
    reason: str
    constraint: str | None = None
    retry_after: float | None = None


_PERMIT: Final = Decision(True, 200, "permitted")

# ODRL 2.2 Information Model §2.4 (Action, "includedIn") and the Common
# Vocabulary: a permission to exercise the parent action permits every action
# it includes (§2.6), and a prohibition of the parent prohibits them (§2.7).
# Only the actions Bocage publishes; an unknown action includes only itself.
# Note that ``use`` includes ``modify`` and ``delete``: offer ``read`` for
# read-only access.
INCLUDED_IN: Final[Mapping[str, str]] = {
    "read": "use",
    "modify": "use",
    "delete": "use",
    "distribute": "use",
    "aggregate": "use",
}

_ODRL: Final = "http://www.w3.org/ns/odrl/2/"
_BOCAGE: Final = "https://w3id.org/bocage/ns#"
_SCHEMA: Final = "http://schema.org/"
_XSD: Final = "http://www.w3.org/2001/XMLSchema#"
_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_PREFIXES: Final = {
    "odrl": _ODRL,
    "bocage": _BOCAGE,
    "schema": _SCHEMA,
    "xsd": _XSD,
    "rdf": _RDF,
}
_DAYS: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
# ODRL constraints in reporting order (module docstring).
_CONSTRAINT_ORDER: Final = ("dateTime", "recipient", "purpose", "spatial", "count")


def _local_name(value: str) -> str:
    """``odrl:read``, ``http://www.w3.org/ns/odrl/2/read`` and ``read`` → ``read``."""
    for iri in _PREFIXES.values():
        if value.startswith(iri):
            return value[len(iri) :]
    prefix, sep, rest = value.partition(":")
    if sep and prefix in _PREFIXES:
        return rest
    return value


def _includes(granted: str, action: str) -> bool:
    """Whether a rule on ``granted`` covers ``action`` (transitively)."""
    current: str | None = _local_name(action)
    granted = _local_name(granted)
    while current is not None:
        if current == granted:
            return True
        current = INCLUDED_IN.get(current)
    return False


# --- constraints (ODRL 2.2 §2.5) ----------------------------------------------

# Three-valued: True (satisfied), False (not satisfied), None (cannot be told:
# the operand is unknown for this request, or the constraint is malformed).
_Truth = bool | None


def _parse_instant(value: str, tz: ZoneInfo) -> datetime | date | None:
    """An xsd:date as a ``date``, an xsd:dateTime as an aware datetime."""
    try:
        if "T" not in value:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A dateTime without an offset is read in the offer's time zone.
    return moment if moment.tzinfo else _first_at_or_after(moment, tz)


def _compare(operator: str, left: Any, right: Any) -> _Truth:
    try:
        if operator == "eq":
            return bool(left == right)
        if operator == "neq":
            return bool(left != right)
        if operator == "lt":
            return bool(left < right)
        if operator == "lteq":
            return bool(left <= right)
        if operator == "gt":
            return bool(left > right)
        if operator == "gteq":
            return bool(left >= right)
    except TypeError:
        return None
    return None


def _values(right: str | int | list[str]) -> list[str | int]:
    return list(right) if isinstance(right, list) else [right]


def _check_datetime(c: Constraint, at: datetime, tz: ZoneInfo) -> _Truth:
    # ODRL 2.2 Vocabulary, "dateTime": the instant of the action.  An
    # xsd:date bound compares the local date in the offer's time zone, so
    # ``lteq 2026-12-31`` includes that whole day and ``lt`` excludes it.
    results: list[_Truth] = []
    for raw in _values(c.right):
        bound = _parse_instant(str(raw), tz)
        if bound is None:
            return None
        left: date | datetime = (
            at.astimezone(tz).date() if type(bound) is date else at.astimezone(UTC)
        )
        results.append(_compare_or_member(c.operator, left, bound))
    return _combine(c.operator, results)


def _compare_or_member(operator: str, left: Any, right: Any) -> _Truth:
    if operator == "isAnyOf":
        return bool(left == right)
    if operator == "isNoneOf":
        return bool(left != right)
    return _compare(operator, left, right)


def _combine(operator: str, results: list[_Truth]) -> _Truth:
    """isAnyOf needs one match, the others every value (a list on eq is odd)."""
    if None in results or not results:
        return None
    if operator == "isAnyOf":
        return any(results)
    return all(results)


def _check_count(c: Constraint, total_uses: int) -> _Truth:
    # ODRL 2.2 Vocabulary, "count": the number of times the action is
    # exercised; this call would be use number ``total_uses + 1``.
    results: list[_Truth] = []
    for raw in _values(c.right):
        try:
            bound = int(raw)
        except ValueError:
            return None
        results.append(_compare_or_member(c.operator, total_uses + 1, bound))
    return _combine(c.operator, results)


def _check_set(c: Constraint, known: frozenset[str] | None) -> _Truth:
    """purpose, spatial, recipient: equality against the values the request has.

    ``known`` is the set of values the request holds (one purpose, one place,
    or every group the caller belongs to); ``eq x`` means x is among them.
    """
    if known is None:
        return None
    values = {str(v) for v in _values(c.right)}
    if c.operator in ("eq", "isAnyOf"):
        if c.operator == "eq" and len(values) != 1:
            return None
        return bool(values & known)
    if c.operator in ("neq", "isNoneOf"):
        if c.operator == "neq" and len(values) != 1:
            return None
        return not values & known
    return None


def _check(c: Constraint, request: AccessRequest, tz: ZoneInfo) -> _Truth:
    if c.left == "dateTime":
        return _check_datetime(c, request.at, tz)
    if c.left == "count":
        return _check_count(c, request.total_uses)
    if c.left == "recipient":
        if request.caller is None:
            return None
        return _check_set(c, request.recipient_groups | {request.caller})
    single = request.purpose if c.left == "purpose" else request.spatial
    if c.left not in ("purpose", "spatial"):
        return None
    return _check_set(c, None if single is None else frozenset({single}))


def _first_failure(
    rule: Rule, request: AccessRequest, tz: ZoneInfo
) -> Constraint | None:
    """The first constraint (in reporting order) not known to be satisfied."""
    ordered = sorted(
        rule.constraints,
        key=lambda c: (
            _CONSTRAINT_ORDER.index(c.left)
            if c.left in _CONSTRAINT_ORDER
            else len(_CONSTRAINT_ORDER)
        ),
    )
    for c in ordered:
        if _check(c, request, tz) is not True:
            return c
    return None


def _prohibition_applies(rule: Rule, request: AccessRequest, tz: ZoneInfo) -> bool:
    # ODRL 2.2 §2.7: a prohibition applies when its constraints are
    # satisfied.  Conservatively, one that cannot be told (operand unknown for
    # this request, malformed value) also applies: it is lifted only by a
    # constraint that is known not to hold.
    return all(_check(c, request, tz) is not False for c in rule.constraints)


def _describe(c: Constraint, request: AccessRequest) -> str:
    right = c.right if not isinstance(c.right, list) else ", ".join(c.right)
    if c.left == "dateTime":
        return f"the offer is valid only when dateTime {c.operator} {right}"
    if c.left == "count":
        return f"use number {request.total_uses + 1} breaks count {c.operator} {right}"
    stated = {
        "purpose": request.purpose,
        "spatial": request.spatial,
        "recipient": request.caller,
    }[c.left]
    if stated is None:
        return f"the request states no {c.left}; the offer needs {c.operator} {right}"
    return f"{c.left} does not satisfy {c.operator} {right}"


def _evaluate_rules(offer: Offer, request: AccessRequest, tz: ZoneInfo) -> Decision:
    """ODRL 2.2 §2.6 and §2.7: some permission holds and no prohibition applies."""
    candidates = [p for p in offer.permissions if _includes(p.action, request.action)]
    if not candidates:
        return Decision(
            False,
            403,
            f"the offer does not permit {_local_name(request.action)!r}",
            "action",
        )

    for rule in offer.prohibitions:
        if _includes(rule.action, request.action) and _prohibition_applies(
            rule, request, tz
        ):
            return Decision(
                False,
                403,
                f"the offer prohibits {_local_name(rule.action)!r} here",
                "prohibition",
            )

    # Report the permission that got furthest through the reporting order:
    # its failure is the one closest to being fixed.
    best: Constraint | None = None
    for rule in candidates:
        failure = _first_failure(rule, request, tz)
        if failure is None:
            return _PERMIT
        rank = _CONSTRAINT_ORDER.index(failure.left)
        if best is None or rank > _CONSTRAINT_ORDER.index(best.left):
            best = failure
    assert best is not None
    return Decision(False, 403, _describe(best, request), best.left)


# --- time: wall clocks, windows and hours (ISO 8601, RFC 5545) ----------------

# Windows of a multiple of a unit (P2D, PT6H, P3M) are aligned on this local
# wall-clock instant, a Monday, so P1W and P2W start on Mondays.
EPOCH: Final = datetime(2000, 1, 3)
_PERIOD_RE: Final = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def _wall(at: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of an aware instant."""
    if at.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return at.astimezone(tz).replace(tzinfo=None, fold=0)


def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=tz, fold=0)
    return _wall(aware.astimezone(UTC), tz) == wall


def _first_at_or_after(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the local clock reads ``wall`` or later.

    A repeated time (fall back) resolves to its first occurrence, as in
    RFC 5545 §3.3.5; a skipped one (spring forward) resolves forward to the
    end of the gap, the instant the clock jumps past it (02:30 on a day Paris
    skips 02:00–03:00 becomes 03:00 CEST).
    """
    if _exists(wall, tz):
        return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    # In a gap: fold=1 reads the wall time with the offset after the jump
    # (an instant before it), fold=0 with the offset before (one after it).
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if high < low:
        low, high = high, low
    # Bisect to the microsecond; tz data has whole-second transitions.
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high


def _parse_period(period: str) -> tuple[int, int]:
    """An ISO 8601 duration as (months, wall-clock seconds); one is zero."""
    match = _PERIOD_RE.match(period)
    if not match or period in ("P", "PT") or period.endswith("T"):
        raise PolicyError(f"{period!r} is not an ISO 8601 duration")
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    months = 12 * y + mo
    seconds = (((7 * w + d) * 24 + h) * 60 + mi) * 60 + s
    if months and seconds:
        raise PolicyError(f"{period!r} mixes months and days; use one unit")
    if not months and not seconds:
        raise PolicyError(f"{period!r} is an empty duration")
    return months, seconds


def _month_start(index: int) -> datetime:
    year, month = divmod(index, 12)
    return datetime(year, month + 1, 1)


def period_window(period: str, at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The quota window ``[start, end)`` holding ``at``, as UTC instants.

    Windows follow the local calendar of ``tz`` (ISO 8601 durations):
    ``PTnH``/``PTnM``/``PTnS`` on wall-clock hours, minutes, seconds; ``PnD``
    from local midnight; ``PnW`` from Monday 00:00 (ISO weeks); ``PnM`` from
    the 1st; ``PnY`` from January 1st.  Multiples are aligned on
    :data:`EPOCH` (Monday 2000-01-03 00:00 local), or on January 2000 for
    months and years; a mixed duration (``P1DT12H``) is a wall-clock length
    on that grid.  Boundaries are wall-clock times converted with
    :func:`_first_at_or_after`, so a local day lasts 23 or 25 hours across
    DST changes and the repeated hour of a fall-back is one two-hour
    ``PT1H`` window.  Raises :class:`PolicyError` for a period mixing months
    with days or time, or an empty one.
    """
    months, seconds = _parse_period(period)
    wall = _wall(at, tz)
    step: timedelta | None = timedelta(seconds=seconds) if seconds else None

    def floor(moment: datetime) -> datetime:
        if step is not None:
            return EPOCH + step * ((moment - EPOCH) // step)
        index = moment.year * 12 + moment.month - 1 - 2000 * 12
        return _month_start(2000 * 12 + index // months * months)

    def following(boundary: datetime) -> datetime:
        if step is not None:
            return boundary + step
        return _month_start(boundary.year * 12 + boundary.month - 1 + months)

    # Windows tile the timeline as instants; after a fall-back the wall clock
    # may read a time from an earlier window, so adjust by instants.
    start = floor(wall)
    end = following(start)
    while at < _first_at_or_after(start, tz):
        end, start = start, floor(start - timedelta(microseconds=1))
    while at >= _first_at_or_after(end, tz):
        start, end = end, following(end)
    return _first_at_or_after(start, tz), _first_at_or_after(end, tz)


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def _in_window(hours: Hours, wall: datetime) -> bool:
    # schema.org OpeningHoursSpecification: closes at or before opens means
    # the window ends the next day and belongs to the day it opens;
    # 00:00–00:00 is the whole day.
    opens, closes = _minutes(hours.opens), _minutes(hours.closes)
    now = wall.hour * 60 + wall.minute + (wall.second + wall.microsecond / 1e6) / 60
    today = _DAYS[wall.weekday()]
    yesterday = _DAYS[(wall.weekday() - 1) % 7]
    if closes > opens:
        return today in hours.days and opens <= now < closes
    return (today in hours.days and now >= opens) or (
        yesterday in hours.days and now < closes
    )


def in_hours(hours: Sequence[Hours], at: datetime, tz: ZoneInfo) -> bool:
    """Whether the local wall clock at ``at`` is inside one of ``hours``.

    No hours means no restriction (always inside).  Comparisons are on the
    wall clock, so during a fall-back both occurrences of a local time are
    inside a window that contains it, and a window (or the part of one) in a
    spring-forward gap is never open.
    """
    if not hours:
        return True
    wall = _wall(at, tz)
    return any(_in_window(h, wall) for h in hours)


def _transitions(tz: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """Instants in ``(start, end]`` where the UTC offset of ``tz`` changes."""
    step = timedelta(hours=3)
    low = start
    while low < end:
        high = min(low + step, end)
        if low.astimezone(tz).utcoffset() != high.astimezone(tz).utcoffset():
            a, b = low, high
            while b - a > timedelta(seconds=1):
                middle = a + (b - a) / 2
                if middle.astimezone(tz).utcoffset() == a.astimezone(tz).utcoffset():
                    a = middle
                else:
                    b = middle
            # The change is at a whole second in (a, b], and b - a <= 1 s.
            yield b.replace(microsecond=0)
        low = high


def next_opening(hours: Sequence[Hours], at: datetime, tz: ZoneInfo) -> datetime | None:
    """The first instant at or after ``at`` inside ``hours``, or None.

    ``at`` itself when already inside, else a UTC instant; None when no
    window opens within nine days (every window lies in a DST gap, say).  Candidates are
    each opening time (both occurrences in a fall-back, resolved forward in a
    gap) and each UTC offset change, kept when :func:`in_hours` agrees.
    """
    if in_hours(hours, at, tz):
        return at
    at = at.astimezone(UTC)
    today = _wall(at, tz).date()
    horizon = at + timedelta(days=9)
    candidates: set[datetime] = set(_transitions(tz, at, horizon))
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        for h in hours:
            if _DAYS[day.weekday()] not in h.days:
                continue
            wall = datetime.combine(day, time.fromisoformat(h.opens))
            candidates.add(_first_at_or_after(wall, tz))
            candidates.add(wall.replace(tzinfo=tz, fold=1).astimezone(UTC))
    found = sorted(
        c for c in candidates if at < c <= horizon and in_hours(hours, c, tz)
    )
    return found[0] if found else None


# --- profile checks ------------------------------------------------------------


def quota_key(quota: Quota) -> str:
    """The key of ``quota`` in :attr:`AccessRequest.period_uses`."""
    return quota.period if quota.unit == "request" else f"{quota.period}/byte"


def _check_hours(offer: Offer, request: AccessRequest, tz: ZoneInfo) -> Decision:
    if in_hours(offer.hours, request.at, tz):
        return _PERMIT
    try:
        opening = next_opening(offer.hours, request.at, tz)
    except OverflowError:  # within days of year 1 or 9999
        opening = None
    wait = (opening - request.at).total_seconds() if opening else None
    local = _wall(request.at, tz)
    reason = f"the service is closed on {local:%A %H:%M} ({offer.timezone})"
    return Decision(False, 403, reason, "hours", retry_after=wait)


def _check_quotas(offer: Offer, request: AccessRequest, tz: ZoneInfo) -> Decision:
    # Report the spent quota that resets last: retrying earlier is useless.
    worst: Decision | None = None
    for quota in offer.quotas:
        key = quota_key(quota)
        used = request.period_uses.get(key, 0)
        cost = 1 if quota.unit == "request" else max(request.units, 0)
        if used < quota.limit and used + cost <= quota.limit:
            continue
        try:
            end: datetime | None = period_window(quota.period, request.at, tz)[1]
        except PolicyError as exc:
            return Decision(False, 403, exc.reason, f"quota:{key}")
        except OverflowError:  # the window ends after year 9999
            end = None
        wait = (
            None
            if cost > quota.limit or end is None
            else (end - request.at).total_seconds()
        )
        unit = "requests" if quota.unit == "request" else "bytes"
        decision = Decision(
            False,
            429,
            f"quota of {quota.limit} {unit} per {quota.period} spent ({used} used)",
            f"quota:{key}",
            retry_after=wait,
        )
        # A quota that can never fit (None) beats any finite wait.
        if worst is None or (
            worst.retry_after is not None and (wait is None or wait > worst.retry_after)
        ):
            worst = decision
    return worst or _PERMIT


def evaluate(offer: Offer, request: AccessRequest) -> Decision:
    """Decide whether ``request`` may go through under ``offer``.

    The checks run in the order of the module docstring and the first
    failure is reported: 403 for transport, action, prohibition, the ODRL
    constraints (§2.5) and hours; 401 when the authentication method is not
    one the offer accepts (``"none"`` in the offer accepts every method);
    429 with ``retry_after`` (seconds to the window's end) for a spent
    quota.  A permission holds when every constraint is known to hold (an
    operand the request does not state fails it); a prohibition applies
    unless one of its constraints is known not to hold.  Raises ValueError
    for a naive ``request.at``.  Not checked here: duties (§2.8), the
    audience, whether the caller holds an agreement, and whether the offer
    was validated (an unknown time zone raises).
    """
    if request.at.utcoffset() is None:
        raise ValueError("AccessRequest.at must be timezone-aware")
    tz = ZoneInfo(offer.timezone)

    if offer.transport == "tls" and not request.secure:
        return Decision(False, 403, "the offer requires TLS", "transport")
    methods = set(offer.authentication)
    if "none" not in methods and request.authentication not in methods:
        return Decision(
            False,
            401,
            "authenticate with " + " or ".join(sorted(methods)),
            "authentication",
        )

    for step in (_evaluate_rules, _check_hours, _check_quotas):
        try:
            decision = step(offer, request, tz)
        except OverflowError:
            # Local time falls outside years 1-9999: nothing can be told.
            return Decision(
                False, 403, "the request time is outside the calendar", "dateTime"
            )
        if not decision.permitted:
            return decision
    return _PERMIT


# --- policies over the wire ------------------------------------------------------


def _by_local_name(terms: Mapping[str, str]) -> dict[str, str]:
    """Reverse a profile table: the IRI's local name -> the authored value."""
    return {
        iri.rsplit(":", 1)[-1].rsplit("#", 1)[-1]: value for value, iri in terms.items()
    }


_AUTHENTICATION: Final = _by_local_name(AUTHENTICATION_TERMS)
_TRANSPORT: Final = _by_local_name(TRANSPORT_TERMS)
_AUDIENCE: Final = _by_local_name(AUDIENCE_TERMS)
_AUTO_ACCEPT: Final = _by_local_name(AUTO_ACCEPT_TERMS)
_QUOTA_UNIT: Final = _by_local_name(QUOTA_UNIT_TERMS)
# Duties are found by full IRI, prefixed name, local name or authored name.
_DUTY_ACTION: Final = {
    **{value: value for value in DUTY_ACTION_TERMS},
    **{iri: value for value, iri in DUTY_ACTION_TERMS.items()},
    **_by_local_name(DUTY_ACTION_TERMS),
    "cc:ShareAlike": "shareAlike",
}
_EU_CURRENCY: Final = "http://publications.europa.eu/resource/authority/currency/"


def _get(node: Mapping[str, Any], prefix: str, name: str) -> Any:
    """A property by prefixed name, full IRI, or (ODRL only) bare term."""
    for key in (f"{prefix}:{name}", _PREFIXES[prefix] + name):
        if key in node:
            return node[key]
    if prefix == "odrl" and name in node:
        return node[name]
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _node(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected an object")
    return value


def _iri(value: Any, where: str) -> str:
    """An IRI given as a string, ``{"id": …}`` or ``{"@id": …}``."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("id", value.get("@id"))
    if not isinstance(value, str) or not value:
        raise PolicyError(f"{where}: expected an IRI")
    return value


def _literal(value: Any, where: str) -> Any:
    """A literal given bare or as ``{"@value": …}``; an IRI as its string."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        if "@value" in value:
            raw = value["@value"]
            kind = _local_name(str(value.get("@type", "")))
            if kind in ("integer", "nonNegativeInteger") and isinstance(raw, str):
                try:
                    return int(raw)
                except ValueError:
                    raise PolicyError(f"{where}: {raw!r} is not an integer") from None
            return raw
        return _iri(value, where)
    if value is None or isinstance(value, (list, bool)):
        raise PolicyError(f"{where}: expected a value")
    return value


def _enum(table: Mapping[str, str], value: Any, where: str) -> str:
    name = _local_name(_iri(value, where))
    if name in table:
        return table[name]
    if name in table.values():
        return name
    raise PolicyError(f"{where}: unknown value {name!r}")


def _read_constraint(value: Any, where: str) -> dict[str, Any]:
    node = _node(value, where)
    left = _local_name(_iri(_get(node, "odrl", "leftOperand"), f"{where}.leftOperand"))
    operator = _local_name(_iri(_get(node, "odrl", "operator"), f"{where}.operator"))
    raw = _get(node, "odrl", "rightOperand")
    if raw is None:
        raise PolicyError(f"{where}.rightOperand: missing")
    values = [_literal(v, f"{where}.rightOperand") for v in _as_list(raw)]
    right: Any
    if operator in ("isAnyOf", "isNoneOf") or len(values) > 1:
        right = [str(v) for v in values]
    else:
        right = values[0]
        if isinstance(right, float) or not isinstance(right, (str, int)):
            raise PolicyError(f"{where}.rightOperand: unsupported value {right!r}")
    return {"left": left, "operator": operator, "right": right}


def _read_duty(value: Any, where: str) -> dict[str, Any]:
    node = _node(value, where)
    action = _get(node, "odrl", "action")
    duty: dict[str, Any] = {}
    if isinstance(action, Mapping) and (
        "rdf:value" in action or _RDF + "value" in action
    ):
        name = _iri(action.get("rdf:value", action.get(_RDF + "value")), where)
        for refinement in _as_list(_get(action, "odrl", "refinement")):
            ref = _node(refinement, f"{where}.refinement")
            left = _iri(_get(ref, "odrl", "leftOperand"), f"{where}.refinement")
            if _local_name(left) != "payAmount":
                raise PolicyError(f"{where}: unsupported refinement {left!r}")
            amount = _literal(_get(ref, "odrl", "rightOperand"), f"{where}.amount")
            try:
                duty["amount"] = float(amount)
            except (TypeError, ValueError):
                raise PolicyError(f"{where}: {amount!r} is not an amount") from None
            unit = _get(ref, "odrl", "unit")
            if unit is not None:
                duty["currency"] = _iri(unit, f"{where}.unit").removeprefix(
                    _EU_CURRENCY
                )
    else:
        name = _iri(action, f"{where}.action")
    kind = _DUTY_ACTION.get(name, _DUTY_ACTION.get(_local_name(name)))
    if kind is None:
        raise PolicyError(f"{where}: unknown duty {name!r}")
    duty["action"] = kind
    for key, term in (("unit", "per"), ("note", "note")):
        text = _get(node, "bocage", term)
        if text is not None:
            duty[key] = str(_literal(text, f"{where}.{term}"))
    return duty


def _read_rule(value: Any, where: str) -> dict[str, Any]:
    node = _node(value, where)
    action = _get(node, "odrl", "action")
    if isinstance(action, Mapping) and _get(action, "odrl", "refinement") is not None:
        # A refined action narrows the rule; ignoring it would widen it.
        raise PolicyError(f"{where}.action: refinements are not supported")
    if isinstance(action, Mapping):
        action = action.get("rdf:value", action.get(_RDF + "value", action))
    rule: dict[str, Any] = {"action": _local_name(_iri(action, f"{where}.action"))}
    constraints = [
        _read_constraint(c, f"{where}.constraint[{n}]")
        for n, c in enumerate(_as_list(_get(node, "odrl", "constraint")))
    ]
    if constraints:
        rule["constraints"] = constraints
    duties = [
        _read_duty(d, f"{where}.duty[{n}]")
        for n, d in enumerate(_as_list(_get(node, "odrl", "duty")))
    ]
    if duties:
        rule["duties"] = duties
    return rule


def _time_of_day(value: Any, where: str) -> str:
    text = str(_literal(value, where))
    match = re.fullmatch(r"((?:[01]\d|2[0-3]):[0-5]\d)(?::00(?:\.0+)?)?", text)
    if not match:
        raise PolicyError(f"{where}: expected HH:MM or HH:MM:00, got {text!r}")
    return match.group(1)


def _read_hours(value: Any, where: str) -> dict[str, Any]:
    node = _node(value, where)
    days = [
        _local_name(_iri(d, f"{where}.dayOfWeek"))
        for d in _as_list(_get(node, "schema", "dayOfWeek"))
    ]
    return {
        "days": sorted(days, key=lambda d: _DAYS.index(d) if d in _DAYS else 7),
        "opens": _time_of_day(_get(node, "schema", "opens"), f"{where}.opens"),
        "closes": _time_of_day(_get(node, "schema", "closes"), f"{where}.closes"),
    }


def _read_quota(value: Any, where: str) -> dict[str, Any]:
    node = _node(value, where)
    quota: dict[str, Any] = {
        "limit": _literal(_get(node, "bocage", "limit"), f"{where}.limit"),
        "period": str(_literal(_get(node, "bocage", "period"), f"{where}.period")),
    }
    unit = _get(node, "bocage", "unit")
    if unit is not None:
        quota["unit"] = _enum(_QUOTA_UNIT, unit, f"{where}.unit")
    return quota


def _validate(offer: Offer) -> None:
    if not offer.permissions:
        raise PolicyError("permission: an offer permits at least one action")
    try:
        ZoneInfo(offer.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"timezone: unknown time zone {offer.timezone!r}") from None
    for n, quota in enumerate(offer.quotas):
        if quota.limit < 0:
            raise PolicyError(f"quota[{n}].limit: must not be negative")
        _parse_period(quota.period)
    for n, hours in enumerate(offer.hours):
        if not hours.days:
            raise PolicyError(f"hoursAvailable[{n}]: name at least one day")


def offer_from_policy(policy: Mapping[str, Any]) -> Offer:
    """Read an ``odrl:hasPolicy`` document back into an :class:`Offer`.

    Reads the plain JSON that :func:`protocol.dcat.service_record` emits,
    without JSON-LD processing: values may be bare, ``{"id": …}`` or
    ``{"@value": …}`` objects, single or in lists; actions, operands and
    profile terms may be prefixed (``odrl:read``) or full IRIs; ODRL keys may
    also be bare terms (``permission``).  What the document does not carry is
    not recovered: a one-value ``eq`` list comes back as the value, a count
    written as a digit string comes back as an integer.  Refined rule actions
    are refused rather than ignored.  Raises :class:`PolicyError`.
    """
    if isinstance(policy, list) and len(policy) == 1:
        policy = policy[0]
    node = _node(policy, "policy")
    data: dict[str, Any] = {
        "permissions": [
            _read_rule(r, f"permission[{n}]")
            for n, r in enumerate(_as_list(_get(node, "odrl", "permission")))
        ]
    }
    prohibitions = [
        _read_rule(r, f"prohibition[{n}]")
        for n, r in enumerate(_as_list(_get(node, "odrl", "prohibition")))
    ]
    if prohibitions:
        data["prohibitions"] = prohibitions
    timezone = _get(node, "bocage", "timezone")
    if timezone is not None:
        data["timezone"] = str(_literal(timezone, "timezone"))
    hours = _as_list(_get(node, "schema", "hoursAvailable"))
    if hours:
        data["hours"] = [
            _read_hours(h, f"hoursAvailable[{n}]") for n, h in enumerate(hours)
        ]
    quotas = _as_list(_get(node, "bocage", "quota"))
    if quotas:
        data["quotas"] = [_read_quota(q, f"quota[{n}]") for n, q in enumerate(quotas)]
    methods = _as_list(_get(node, "bocage", "authentication"))
    if methods:
        data["authentication"] = [
            _enum(_AUTHENTICATION, m, "authentication") for m in methods
        ]
    for key, term, table in (
        ("transport", "transportSecurity", _TRANSPORT),
        ("audience", "audience", _AUDIENCE),
    ):
        value = _get(node, "bocage", term)
        if value is not None:
            data[key] = _enum(table, value, term)
    accept = [
        _iri(a, "autoAccept") for a in _as_list(_get(node, "bocage", "autoAccept"))
    ]
    named = [_AUTO_ACCEPT.get(_local_name(a)) for a in accept]
    if len(accept) == 1 and named[0] is not None:
        data["auto_accept"] = named[0]
    elif accept:
        data["auto_accept"] = accept

    try:
        offer = msgspec.convert(data, Offer)
    except msgspec.ValidationError as exc:
        raise PolicyError(str(exc)) from None
    _validate(offer)
    return offer


# --- requested vs offered (Dataspace Protocol negotiation) ----------------------


def _bound(c: Constraint, tz: ZoneInfo) -> Any:
    """A comparable right operand for dateTime and count, or None."""
    if isinstance(c.right, list):
        return None
    if c.left == "count":
        try:
            return int(c.right)
        except ValueError:
            return None
    if c.left == "dateTime":
        return _parse_instant(str(c.right), tz)
    return None


def _implies_order(req: Constraint, off: Constraint, tz: ZoneInfo) -> bool:
    mine, theirs = _bound(req, tz), _bound(off, tz)
    if mine is None or theirs is None or type(mine) is not type(theirs):
        return False
    upper = {"lt", "lteq"}
    lower = {"gt", "gteq"}
    if off.operator in upper:
        if req.operator == "eq":
            return bool(mine < theirs if off.operator == "lt" else mine <= theirs)
        if req.operator in upper:
            strict = off.operator == "lt" and req.operator == "lteq"
            return bool(mine < theirs if strict else mine <= theirs)
    if off.operator in lower:
        if req.operator == "eq":
            return bool(mine > theirs if off.operator == "gt" else mine >= theirs)
        if req.operator in lower:
            strict = off.operator == "gt" and req.operator == "gteq"
            return bool(mine > theirs if strict else mine >= theirs)
    return False


def _implies_set(req: Constraint, off: Constraint) -> bool:
    # Set semantics (the recipient is every group a caller belongs to), so a
    # positive requested constraint never implies a negative offered one.
    mine = {str(v) for v in _values(req.right)}
    theirs = {str(v) for v in _values(off.right)}
    positive = {"eq", "isAnyOf"}
    negative = {"neq", "isNoneOf"}
    if off.operator in positive and req.operator in positive:
        if off.operator == "eq" and len(theirs) != 1:
            return False
        return bool(mine) and mine <= theirs
    if off.operator in negative and req.operator in negative:
        return theirs <= mine
    return False


def _implies(req: Constraint, off: Constraint, tz: ZoneInfo) -> bool:
    """Whether ``req`` holding guarantees ``off`` holds (conservative)."""
    if req.left != off.left:
        return False
    if req == off:
        return True
    if off.left in ("dateTime", "count"):
        return _implies_order(req, off, tz)
    return _implies_set(req, off)


def _covers(requested: Rule, offered: Rule, tz: ZoneInfo) -> str | None:
    if not _includes(offered.action, requested.action):
        return f"{offered.action!r} does not include {requested.action!r}"
    for off in offered.constraints:
        if not any(_implies(req, off, tz) for req in requested.constraints):
            return f"no requested constraint as strict as {off.left} {off.operator}"
    for duty in offered.duties:
        if duty not in requested.duties:
            return f"the {duty.action!r} duty is missing"
    return None


def _week_minutes(hours: Iterable[Hours]) -> set[int]:
    """The minutes of the week (Monday 00:00 = 0) inside ``hours``."""
    week = 7 * 24 * 60
    inside: set[int] = set()
    for h in hours:
        opens, closes = _minutes(h.opens), _minutes(h.closes)
        length = closes - opens if closes > opens else closes + 24 * 60 - opens
        for day in h.days:
            start = _DAYS.index(day) * 24 * 60 + opens
            inside.update((start + m) % week for m in range(length))
    return inside


def narrower_or_equal(requested: Offer, offered: Offer) -> str | None:
    """None when ``requested`` asks for no more than ``offered``, else why not.

    Conservative: a term that cannot be shown narrower counts as broader.
    Every requested permission must be covered by an offered permission on
    an including action (ODRL 2.2 §2.6) whose every constraint is implied
    by a requested constraint on the same operand (an earlier end, a later
    start, a lower count, a subset of values) and whose duties are kept;
    every offered prohibition must be kept (same or including action, a
    subset of its constraints).  Profile: the same time zone; hours inside
    the offered hours (minute by minute over the week); every offered quota
    matched by one on the same period and unit with a limit no higher;
    authentication methods among the offered ones; TLS kept.  The audience
    and auto-acceptance are terms of the offer, not of an agreement, and
    are not compared.
    """
    if requested.timezone != offered.timezone:
        return f"time zone {requested.timezone} is not {offered.timezone}"
    tz = ZoneInfo(offered.timezone)

    if not requested.permissions:
        return "no permission is requested"
    for n, rule in enumerate(requested.permissions):
        reasons = [_covers(rule, o, tz) for o in offered.permissions]
        if None not in reasons:
            why = reasons[0] if reasons else "nothing is offered"
            return f"permission {n} ({rule.action}): {why}"
    for rule in offered.prohibitions:
        kept = any(
            _includes(mine.action, rule.action)
            and all(c in rule.constraints for c in mine.constraints)
            for mine in requested.prohibitions
        )
        if not kept:
            return f"the prohibition of {rule.action!r} is missing"

    if offered.hours:
        always = [Hours(days=list(_DAYS), opens="00:00", closes="00:00")]
        wanted = _week_minutes(requested.hours or always)
        outside = wanted - _week_minutes(offered.hours)
        if outside:
            first = min(outside)
            day, minute = divmod(first, 24 * 60)
            return (
                f"hours outside the offer ({_DAYS[day]} "
                f"{minute // 60:02d}:{minute % 60:02d})"
            )
    for quota in offered.quotas:
        if not any(
            q.period == quota.period and q.unit == quota.unit and q.limit <= quota.limit
            for q in requested.quotas
        ):
            return (
                f"the quota of {quota.limit} {quota.unit} per {quota.period} is missing"
            )
    if "none" not in offered.authentication:
        extra = set(requested.authentication) - set(offered.authentication)
        if extra:
            return f"authentication {sorted(extra)[0]!r} is not offered"
    if offered.transport == "tls" and requested.transport != "tls":
        return "the offer requires TLS"
    return None
