"""Evaluating offers: every constraint kind, DST days, quota windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.odrl import (
    AccessRequest,
    Decision,
    PolicyError,
    evaluate,
    in_hours,
    next_opening,
    period_window,
)
from protocol.records import Constraint, Day, Hours, Offer, Quota, Rule

PARIS = ZoneInfo("Europe/Paris")
CHATHAM = ZoneInfo("Pacific/Chatham")
ST_JOHNS = ZoneInfo("America/St_Johns")
ME = "https://peer.example/actor"
GROUP = "https://peer.example/groups/partners"
TERRITORY = "https://geo.api.gouv.fr/epcis/243500741"
WEEKDAYS: list[Day] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
DAYS: list[Day] = [*WEEKDAYS, "Saturday", "Sunday"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)  # type: ignore[arg-type,misc]


def c(left: str, operator: str, right: Any) -> Constraint:
    return Constraint(left=left, operator=operator, right=right)  # type: ignore[arg-type]


def offer(*constraints: Constraint, action: str = "read", **kw: Any) -> Offer:
    kw.setdefault("authentication", ["http-signature"])
    rules = [Rule(action=action, constraints=list(constraints))]  # type: ignore[arg-type]
    return Offer(permissions=rules, **kw)


def req(at: datetime, **kw: Any) -> AccessRequest:
    kw.setdefault("action", "read")
    kw.setdefault("caller", ME)
    kw.setdefault("authentication", "http-signature")
    kw.setdefault("recipient_groups", frozenset({ME}))
    kw.setdefault("secure", True)
    return AccessRequest(at=at, **kw)


NOON = utc(2026, 6, 15, 10)  # a Monday, 12:00 in Paris
VALID = (c("dateTime", "gteq", "2026-01-01"), c("dateTime", "lteq", "2026-12-31"))
ENDS_BEFORE = c("dateTime", "lt", "2026-12-31")
SAT_SUN_NIGHTS = [Hours(days=["Saturday", "Sunday"], opens="22:00", closes="06:00")]
FRI_SAT_SUN_NIGHTS = [
    Hours(days=["Friday", "Saturday", "Sunday"], opens="22:00", closes="06:00")
]
OFFICE = [Hours(days=WEEKDAYS, opens="09:00", closes="17:00")]
SUNDAY_EARLY = [Hours(days=["Sunday"], opens="02:00", closes="02:30")]
SUNDAY_0230 = [Hours(days=["Sunday"], opens="02:30", closes="05:00")]
DAILY = [Quota(limit=100, period="P1D")]

# (name, offer, request, status, failing constraint)
TABLE: list[tuple[str, Offer, AccessRequest, int, str | None]] = [
    # --- action, inclusion, prohibitions
    ("read permitted", offer(), req(NOON), 200, None),
    ("modify not offered", offer(), req(NOON, action="modify"), 403, "action"),
    ("use includes read", offer(action="use"), req(NOON), 200, None),
    ("read excludes use", offer(), req(NOON, action="use"), 403, "action"),
    ("full IRI action", offer(), req(NOON, action="odrl:read"), 200, None),
    (
        "prohibition overrides",
        offer(prohibitions=[Rule(action="read")]),
        req(NOON),
        403,
        "prohibition",
    ),
    (
        "prohibition of use covers read",
        offer(action="use", prohibitions=[Rule(action="use")]),
        req(NOON),
        403,
        "prohibition",
    ),
    (
        "conditional prohibition applies",
        offer(
            prohibitions=[
                Rule(action="read", constraints=[c("purpose", "eq", "marketing")])
            ]
        ),
        req(NOON, purpose="marketing"),
        403,
        "prohibition",
    ),
    (
        "conditional prohibition lifted",
        offer(
            prohibitions=[
                Rule(action="read", constraints=[c("purpose", "eq", "marketing")])
            ]
        ),
        req(NOON, purpose="research"),
        200,
        None,
    ),
    (
        "conditional prohibition applies when purpose unknown",
        offer(
            prohibitions=[
                Rule(action="read", constraints=[c("purpose", "eq", "marketing")])
            ]
        ),
        req(NOON),
        403,
        "prohibition",
    ),
    (
        "prohibition wins over a failing validity",
        offer(ENDS_BEFORE, prohibitions=[Rule(action="read")]),
        req(utc(2027, 1, 1)),
        403,
        "prohibition",
    ),
    # --- validity window (dates are local days in the offer's time zone)
    (
        "start: last instant before",
        offer(*VALID),
        req(utc(2025, 12, 31, 22, 59, 59)),
        403,
        "dateTime",
    ),
    (
        "start: local midnight (gteq)",
        offer(*VALID),
        req(utc(2025, 12, 31, 23)),
        200,
        None,
    ),
    (
        "end: last local second (lteq)",
        offer(*VALID),
        req(utc(2026, 12, 31, 22, 59, 59)),
        200,
        None,
    ),
    (
        "end: next local day (lteq)",
        offer(*VALID),
        req(utc(2026, 12, 31, 23)),
        403,
        "dateTime",
    ),
    (
        "end: day before (lt)",
        offer(ENDS_BEFORE),
        req(utc(2026, 12, 30, 22, 59, 59)),
        200,
        None,
    ),
    (
        "end: the day itself (lt)",
        offer(ENDS_BEFORE),
        req(utc(2026, 12, 30, 23)),
        403,
        "dateTime",
    ),
    (
        "end instant (lt dateTime)",
        offer(c("dateTime", "lt", "2026-07-01T00:00:00Z")),
        req(utc(2026, 7, 1)),
        403,
        "dateTime",
    ),
    (
        "just before end instant",
        offer(c("dateTime", "lt", "2026-07-01T00:00:00Z")),
        req(utc(2026, 7, 1) - timedelta(microseconds=1)),
        200,
        None,
    ),
    (
        "naive dateTime read in the offer's zone",
        offer(c("dateTime", "gteq", "2026-07-01T00:00:00")),
        req(utc(2026, 6, 30, 22)),
        200,
        None,
    ),
    (
        "malformed date denies",
        offer(c("dateTime", "lt", "soon")),
        req(NOON),
        403,
        "dateTime",
    ),
    # --- count: this call is use number total_uses + 1
    (
        "count: 10th use of 10",
        offer(c("count", "lteq", 10)),
        req(NOON, total_uses=9),
        200,
        None,
    ),
    (
        "count: 11th use of 10",
        offer(c("count", "lteq", 10)),
        req(NOON, total_uses=10),
        403,
        "count",
    ),
    ("count lt", offer(c("count", "lt", 10)), req(NOON, total_uses=9), 403, "count"),
    # --- purpose
    (
        "purpose eq",
        offer(c("purpose", "eq", "research")),
        req(NOON, purpose="research"),
        200,
        None,
    ),
    (
        "purpose eq other",
        offer(c("purpose", "eq", "research")),
        req(NOON, purpose="ads"),
        403,
        "purpose",
    ),
    (
        "purpose unstated",
        offer(c("purpose", "eq", "research")),
        req(NOON),
        403,
        "purpose",
    ),
    (
        "purpose isAnyOf",
        offer(c("purpose", "isAnyOf", ["research", "education"])),
        req(NOON, purpose="education"),
        200,
        None,
    ),
    (
        "purpose isAnyOf miss",
        offer(c("purpose", "isAnyOf", ["research", "education"])),
        req(NOON, purpose="ads"),
        403,
        "purpose",
    ),
    (
        "purpose isNoneOf",
        offer(c("purpose", "isNoneOf", ["ads", "profiling"])),
        req(NOON, purpose="research"),
        200,
        None,
    ),
    (
        "purpose isNoneOf hit",
        offer(c("purpose", "isNoneOf", ["ads", "profiling"])),
        req(NOON, purpose="ads"),
        403,
        "purpose",
    ),
    # --- spatial
    (
        "spatial eq",
        offer(c("spatial", "eq", TERRITORY)),
        req(NOON, spatial=TERRITORY),
        200,
        None,
    ),
    (
        "spatial eq other",
        offer(c("spatial", "eq", TERRITORY)),
        req(NOON, spatial="https://geo.example/x"),
        403,
        "spatial",
    ),
    (
        "spatial isNoneOf",
        offer(c("spatial", "isNoneOf", [TERRITORY])),
        req(NOON, spatial="https://geo.example/x"),
        200,
        None,
    ),
    (
        "spatial isNoneOf hit",
        offer(c("spatial", "isNoneOf", [TERRITORY])),
        req(NOON, spatial=TERRITORY),
        403,
        "spatial",
    ),
    # --- recipient: the caller or a group it belongs to
    ("recipient eq caller", offer(c("recipient", "eq", ME)), req(NOON), 200, None),
    (
        "recipient eq group",
        offer(c("recipient", "eq", GROUP)),
        req(NOON, recipient_groups=frozenset({ME, GROUP})),
        200,
        None,
    ),
    (
        "recipient not in group",
        offer(c("recipient", "eq", GROUP)),
        req(NOON),
        403,
        "recipient",
    ),
    (
        "recipient anonymous",
        offer(c("recipient", "isAnyOf", [ME, GROUP]), authentication=["none"]),
        req(NOON, caller=None, authentication="none", recipient_groups=frozenset()),
        403,
        "recipient",
    ),
    (
        "recipient isNoneOf",
        offer(c("recipient", "isNoneOf", [GROUP])),
        req(NOON, recipient_groups=frozenset({ME, GROUP})),
        403,
        "recipient",
    ),
    # --- the furthest permission is reported; any permission suffices
    (
        "second permission holds",
        Offer(
            permissions=[
                Rule(action="read", constraints=[c("purpose", "eq", "x")]),
                Rule(action="read", constraints=[c("recipient", "eq", ME)]),
            ]
        ),
        req(NOON),
        200,
        None,
    ),
    # --- authentication and transport
    ("unsigned", offer(), req(NOON, authentication="none"), 401, "authentication"),
    (
        "token not accepted",
        offer(),
        req(NOON, authentication="agreement-token"),
        401,
        "authentication",
    ),
    ("open offer accepts signed", offer(authentication=["none"]), req(NOON), 200, None),
    ("plain HTTP", offer(), req(NOON, secure=False), 403, "transport"),
    ("plain HTTP allowed", offer(transport="any"), req(NOON, secure=False), 200, None),
    (
        "transport before authentication",
        offer(),
        req(NOON, secure=False, authentication="none"),
        403,
        "transport",
    ),
    # --- hours, Europe/Paris
    ("office hours", offer(hours=OFFICE), req(utc(2026, 1, 5, 8)), 200, None),
    (
        "before office hours",
        offer(hours=OFFICE),
        req(utc(2026, 1, 5, 7, 59, 59)),
        403,
        "hours",
    ),
    (
        "office closes (exclusive)",
        offer(hours=OFFICE),
        req(utc(2026, 1, 5, 16)),
        403,
        "hours",
    ),
    ("weekend closed", offer(hours=OFFICE), req(utc(2026, 1, 10, 12)), 403, "hours"),
    (
        "Sunday 23:30 in",
        offer(hours=SAT_SUN_NIGHTS),
        req(paris(2026, 12, 6, 23, 30)),
        200,
        None,
    ),
    (
        "Monday 05:00 in (opened Sunday)",
        offer(hours=SAT_SUN_NIGHTS),
        req(paris(2026, 12, 7, 5)),
        200,
        None,
    ),
    (
        "Monday 07:00 out",
        offer(hours=SAT_SUN_NIGHTS),
        req(paris(2026, 12, 7, 7)),
        403,
        "hours",
    ),
    (
        "Saturday 05:00 out",
        offer(hours=SAT_SUN_NIGHTS),
        req(paris(2026, 12, 5, 5)),
        403,
        "hours",
    ),
    (
        "Saturday 05:00 in with Friday",
        offer(hours=FRI_SAT_SUN_NIGHTS),
        req(paris(2026, 12, 5, 5)),
        200,
        None,
    ),
    (
        "all day 00:00-00:00",
        offer(hours=[Hours(days=["Sunday"], opens="00:00", closes="00:00")]),
        req(paris(2026, 12, 6, 23, 59, 59)),
        200,
        None,
    ),
    (
        "all day ends at midnight",
        offer(hours=[Hours(days=["Sunday"], opens="00:00", closes="00:00")]),
        req(paris(2026, 12, 7, 0)),
        403,
        "hours",
    ),
    # spring forward, 2026-03-29: 02:00-03:00 does not exist in Paris
    (
        "gap: 01:59 CET before 02:30",
        offer(hours=SUNDAY_0230),
        req(utc(2026, 3, 29, 0, 59)),
        403,
        "hours",
    ),
    (
        "gap: 03:00 CEST opens 02:30",
        offer(hours=SUNDAY_0230),
        req(utc(2026, 3, 29, 1)),
        200,
        None,
    ),
    (
        "gap: window never open",
        offer(hours=SUNDAY_EARLY),
        req(utc(2026, 3, 29, 1)),
        403,
        "hours",
    ),
    # fall back, 2026-10-25: 02:00-03:00 happens twice
    (
        "fold: first 02:15 in",
        offer(hours=SUNDAY_EARLY),
        req(utc(2026, 10, 25, 0, 15)),
        200,
        None,
    ),
    (
        "fold: 02:45 CEST out",
        offer(hours=SUNDAY_EARLY),
        req(utc(2026, 10, 25, 0, 45)),
        403,
        "hours",
    ),
    (
        "fold: second 02:15 in",
        offer(hours=SUNDAY_EARLY),
        req(utc(2026, 10, 25, 1, 15)),
        200,
        None,
    ),
    # odd offsets
    (
        "St John's -03:30 before 09:00",
        offer(hours=OFFICE, timezone="America/St_Johns"),
        req(utc(2026, 1, 5, 12, 29)),
        403,
        "hours",
    ),
    (
        "St John's -03:30 at 09:00",
        offer(hours=OFFICE, timezone="America/St_Johns"),
        req(utc(2026, 1, 5, 12, 30)),
        200,
        None,
    ),
    # --- quotas
    ("quota left", offer(quotas=DAILY), req(NOON, period_uses={"P1D": 99}), 200, None),
    (
        "quota spent",
        offer(quotas=DAILY),
        req(NOON, period_uses={"P1D": 100}),
        429,
        "quota:P1D",
    ),
    (
        "byte quota would overflow",
        offer(quotas=[Quota(limit=1000, period="P1D", unit="byte")]),
        req(NOON, period_uses={"P1D/byte": 900, "P1D": 10**6}, units=200),
        429,
        "quota:P1D/byte",
    ),
    (
        "byte quota fits",
        offer(quotas=[Quota(limit=1000, period="P1D", unit="byte")]),
        req(NOON, period_uses={"P1D/byte": 800}, units=200),
        200,
        None,
    ),
    (
        "zero quota",
        offer(quotas=[Quota(limit=0, period="PT1H")]),
        req(NOON),
        429,
        "quota:PT1H",
    ),
    (
        "hours before quota",
        offer(hours=OFFICE, quotas=DAILY),
        req(utc(2026, 1, 10, 12), period_uses={"P1D": 100}),
        403,
        "hours",
    ),
    (
        "validity before hours",
        offer(*VALID, hours=OFFICE),
        req(utc(2027, 1, 9, 12)),
        403,
        "dateTime",
    ),
    (
        "unsupported period denies",
        offer(quotas=[Quota(limit=1, period="P1M1D")]),
        req(NOON, period_uses={"P1M1D": 1}),
        403,
        "quota:P1M1D",
    ),
]


@pytest.mark.parametrize(
    ("offer_", "request_", "status", "constraint"),
    [pytest.param(o, r, s, k, id=n) for n, o, r, s, k in TABLE],
)
def test_evaluate(
    offer_: Offer, request_: AccessRequest, status: int, constraint: str | None
) -> None:
    decision = evaluate(offer_, request_)
    assert (decision.status, decision.constraint) == (status, constraint), decision
    assert decision.permitted is (status == 200)
    assert "\n" not in decision.reason and decision.reason


# (name, offer, at, retry_after in seconds)
RETRY: list[tuple[str, Offer, datetime, float | None]] = [
    (
        "P1D at 23:59:59.999",
        offer(quotas=DAILY),
        paris(2026, 6, 15, 23, 59, 59, 999000),
        0.001,
    ),
    ("P1D at local midnight", offer(quotas=DAILY), paris(2026, 6, 16), 86400),
    ("P1D on the 23-hour day", offer(quotas=DAILY), paris(2026, 3, 29), 23 * 3600),
    ("P1D on the 25-hour day", offer(quotas=DAILY), paris(2026, 10, 25), 25 * 3600),
    (
        "P1D second 02:30 of the fold",
        offer(quotas=DAILY),
        paris(2026, 10, 25, 2, 30, fold=1),
        21.5 * 3600,
    ),
    (
        "PT1H in the repeated hour",
        offer(quotas=[Quota(limit=1, period="PT1H")]),
        paris(2026, 10, 25, 2, 30),
        1.5 * 3600,
    ),
    (
        "PT1H before the gap",
        offer(quotas=[Quota(limit=1, period="PT1H")]),
        paris(2026, 3, 29, 1, 30),
        1800,
    ),
    (
        "P1M end of January",
        offer(quotas=[Quota(limit=1, period="P1M")]),
        paris(2026, 1, 31, 23),
        3600,
    ),
    (
        "P1M end of February",
        offer(quotas=[Quota(limit=1, period="P1M")]),
        paris(2026, 2, 28, 12),
        12 * 3600,
    ),
    (
        "P1M leap February",
        offer(quotas=[Quota(limit=1, period="P1M")]),
        paris(2028, 2, 28, 12),
        36 * 3600,
    ),
    (
        "P1M across spring forward",
        offer(quotas=[Quota(limit=1, period="P1M")]),
        paris(2026, 3, 1),
        (31 * 24 - 1) * 3600,
    ),
    (
        "P1W at Monday 00:00",
        offer(quotas=[Quota(limit=1, period="P1W")]),
        paris(2026, 1, 5),
        7 * 86400,
    ),
    (
        "P1W at Sunday 23:59:59",
        offer(quotas=[Quota(limit=1, period="P1W")]),
        paris(2026, 1, 11, 23, 59, 59),
        1,
    ),
    (
        "P1Y on new year's eve",
        offer(quotas=[Quota(limit=1, period="P1Y")]),
        paris(2026, 12, 31, 23),
        3600,
    ),
    (
        "P2D from the epoch",
        offer(quotas=[Quota(limit=1, period="P2D")]),
        paris(2000, 1, 3, 12),
        36 * 3600,
    ),
    (
        "Chatham P1D +13:45",
        offer(quotas=DAILY, timezone="Pacific/Chatham"),
        utc(2026, 12, 9, 10, 15),
        86400,
    ),
    (
        "never fits",
        offer(quotas=[Quota(limit=10, period="P1D", unit="byte")]),
        paris(2026, 6, 15),
        None,
    ),
]


@pytest.mark.parametrize(
    ("offer_", "at", "expected"),
    [pytest.param(o, a, e, id=n) for n, o, a, e in RETRY],
)
def test_quota_retry_after(offer_: Offer, at: datetime, expected: float | None) -> None:
    quota = offer_.quotas[0]
    key = quota.period if quota.unit == "request" else f"{quota.period}/byte"
    request = req(at, period_uses={key: quota.limit}, units=11)
    decision = evaluate(offer_, request)
    assert decision.status == 429
    if expected is None:
        assert decision.retry_after is None
    else:
        assert decision.retry_after == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        pytest.param(OFFICE, utc(2026, 1, 5, 7, 30), 1800, id="office"),
        pytest.param(OFFICE, utc(2026, 1, 9, 16), 2 * 86400 + 16 * 3600, id="weekend"),
        pytest.param(SUNDAY_0230, utc(2026, 3, 29, 0, 30), 1800, id="opens in the gap"),
        pytest.param(
            SUNDAY_EARLY, utc(2026, 10, 25, 0, 45), 900, id="reopens in the fold"
        ),
        pytest.param(
            SAT_SUN_NIGHTS,
            paris(2026, 12, 7, 7),
            5 * 86400 + 15 * 3600,
            id="next Saturday",
        ),
    ],
)
def test_hours_retry_after(hours: list[Hours], at: datetime, expected: float) -> None:
    decision = evaluate(offer(hours=hours), req(at))
    assert decision.constraint == "hours"
    assert decision.retry_after == expected


def test_period_window_boundaries() -> None:
    last = paris(2026, 6, 15, 23, 59, 59, 999999)
    first = paris(2026, 6, 16)
    assert period_window("P1D", last, PARIS)[1] == first
    assert period_window("P1D", first, PARIS) == (first, paris(2026, 6, 17))
    start, end = period_window("P1D", paris(2026, 3, 29, 12), PARIS)
    assert (start, end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    start, end = period_window("P1D", paris(2026, 10, 25, 12), PARIS)
    assert end - start == timedelta(hours=25)
    assert period_window("P1W", paris(2026, 3, 30), PARIS)[0] == paris(2026, 3, 30)
    assert period_window("P1M", paris(2026, 2, 1), PARIS) == (
        paris(2026, 2, 1),
        paris(2026, 3, 1),
    )
    assert all(x.tzinfo is UTC for x in period_window("PT1H", NOON, CHATHAM))
    # Chatham: hours start at :00 local, which is :15 UTC.
    assert period_window("PT1H", utc(2026, 12, 9, 10, 20), CHATHAM)[0] == utc(
        2026, 12, 9, 10, 15
    )
    assert period_window("PT1H", utc(2026, 1, 5, 12, 40), ST_JOHNS)[0] == utc(
        2026, 1, 5, 12, 30
    )


@pytest.mark.parametrize("period", ["P1M1D", "P", "PT", "P0D", "1D", "P1.5D"])
def test_period_window_rejects(period: str) -> None:
    with pytest.raises(PolicyError):
        period_window(period, NOON, PARIS)


def test_in_hours_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError):
        in_hours(OFFICE, datetime(2026, 1, 5, 10), PARIS)


def test_evaluate_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError):
        evaluate(offer(), req(datetime(2026, 1, 5, 10)))


def test_next_opening_is_none_when_never_open() -> None:
    assert (
        next_opening([Hours(days=[], opens="09:00", closes="10:00")], NOON, PARIS)
        is None
    )
    assert next_opening([], NOON, PARIS) == NOON


# --- properties ---------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Paris",
    "Pacific/Chatham",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Apia",
    "Asia/Kathmandu",
]
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31)
).map(lambda d: d.replace(tzinfo=UTC))
zones = st.sampled_from(ZONES).map(ZoneInfo)
times = st.sampled_from(["00:00", "00:30", "02:00", "02:30", "06:00", "22:00", "23:45"])
hours_lists = st.lists(
    st.builds(
        Hours,
        days=st.lists(st.sampled_from(DAYS), min_size=1, unique=True),
        opens=times,
        closes=times,
    ),
    max_size=3,
)
periods = st.builds(
    lambda n, unit: f"PT{n}{unit}" if unit == "H" else f"P{n}{unit}",
    st.integers(1, 3),
    st.sampled_from(["H", "D", "W", "Y"]),
) | st.builds(lambda n: f"P{n}M", st.integers(1, 13))
constraints = st.builds(
    Constraint,
    left=st.sampled_from(["dateTime", "count", "purpose", "spatial", "recipient"]),
    operator=st.sampled_from(
        ["eq", "neq", "lt", "lteq", "gt", "gteq", "isAnyOf", "isNoneOf"]
    ),
    right=st.one_of(
        st.integers(-5, 50),
        st.sampled_from(
            ["2026-01-01", "2026-06-01T00:00:00Z", "x", ME, "", "2026-13-45"]
        ),
        st.lists(st.sampled_from(["x", ME, GROUP, "2026-01-01"]), max_size=3),
    ),
)
rules = st.builds(
    Rule,
    action=st.sampled_from(
        ["read", "modify", "delete", "use", "distribute", "aggregate"]
    ),
    constraints=st.lists(constraints, max_size=3),
)
offers = st.builds(
    Offer,
    permissions=st.lists(rules, min_size=1, max_size=3),
    prohibitions=st.lists(rules, max_size=2),
    timezone=st.sampled_from(ZONES),
    hours=hours_lists,
    quotas=st.lists(
        st.builds(
            Quota,
            limit=st.integers(0, 5),
            period=periods | st.sampled_from(["PT90M", "P1DT12H", "P1Y6M", "P1M1D"]),
            unit=st.sampled_from(["request", "byte"]),
        ),
        max_size=3,
    ),
    authentication=st.lists(
        st.sampled_from(["none", "http-signature", "agreement-token"]), min_size=1
    ),
    transport=st.sampled_from(["tls", "any"]),
)
requests = st.builds(
    AccessRequest,
    action=st.sampled_from(["read", "modify", "use", "odrl:delete", "frobnicate"]),
    at=st.datetimes(timezones=st.timezones()) | instants,
    caller=st.none() | st.just(ME),
    authentication=st.sampled_from(["none", "http-signature", "agreement-token"]),
    secure=st.booleans(),
    purpose=st.none() | st.sampled_from(["x", "research"]),
    spatial=st.none() | st.just(TERRITORY),
    recipient_groups=st.frozensets(st.sampled_from([ME, GROUP])),
    total_uses=st.integers(0, 60),
    period_uses=st.dictionaries(
        st.sampled_from(["P1D", "PT1H", "P1M/byte"]), st.integers(0, 9)
    ),
    units=st.integers(0, 9),
)


@settings(max_examples=300, deadline=None)
@given(offers, requests)
def test_evaluate_never_raises(offer_: Offer, request_: AccessRequest) -> None:
    decision = evaluate(offer_, request_)
    assert isinstance(decision, Decision)
    assert decision.status in (200, 401, 403, 429)
    assert decision.permitted is (decision.status == 200)
    if decision.retry_after is not None:
        assert decision.retry_after > 0


@settings(max_examples=400, deadline=None)
@given(
    periods | st.sampled_from(["PT90M", "P1DT12H", "P1Y6M", "PT7S"]), instants, zones
)
def test_period_window_contains_at(period: str, at: datetime, tz: ZoneInfo) -> None:
    start, end = period_window(period, at, tz)
    assert start <= at < end
    # Windows tile: the next one starts where this one ends.
    assert period_window(period, end, tz)[0] == end


@settings(max_examples=400, deadline=None)
@given(hours_lists, instants, zones)
def test_next_opening_agrees_with_in_hours(
    hours: list[Hours], at: datetime, tz: ZoneInfo
) -> None:
    opening = next_opening(hours, at, tz)
    if in_hours(hours, at, tz):
        assert opening == at
    elif opening is not None:
        assert opening > at
        assert in_hours(hours, opening, tz)
        # Closed all along until then (checked one second before).
        before = opening - timedelta(seconds=1)
        assert before <= at or not in_hours(hours, before, tz)
