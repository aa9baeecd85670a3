"""An offer's ODRL policy told in plain words, in French or English.

Read from the offer's published policy the way the enforcer reads it
(:mod:`protocol.odrl`), so the page says what is enforced: who may use the
service, what, when, how much, on what conditions and at what price.  A
condition it cannot phrase is shown as written, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from node.web.i18n import Translator
from protocol.records import Constraint, Hours, Offer, Quota, Rule

MAX_NAMES_SHOWN = 10  # nodes named in one sentence; the rest are counted


@dataclass(frozen=True, slots=True)
class ContractWords:
    """An offer told in sentences: one summary, then the terms by heading.

    The sentences are plain text (peers' values included): the templates
    escape them.
    """

    summary: str
    terms: list[tuple[str, list[str]]]


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PERIOD_RE = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def _day_names(tr: Translator) -> dict[str, str]:
    # Literal calls, so the message check finds every day's translation.
    return {
        "Monday": tr.gettext("Monday"),
        "Tuesday": tr.gettext("Tuesday"),
        "Wednesday": tr.gettext("Wednesday"),
        "Thursday": tr.gettext("Thursday"),
        "Friday": tr.gettext("Friday"),
        "Saturday": tr.gettext("Saturday"),
        "Sunday": tr.gettext("Sunday"),
    }


def _action(tr: Translator, action: str) -> str:
    verbs = {
        "read": tr.gettext("read the data"),
        "modify": tr.gettext("write data"),
        "delete": tr.gettext("delete data"),
        "use": tr.gettext("use the service"),
        "distribute": tr.gettext("redistribute the data"),
        "aggregate": tr.gettext("aggregate the data"),
    }
    return verbs.get(action, action)


def join(tr: Translator, items: list[str], *, conjunction: str = "and") -> str:
    """``a, b and c`` in the visitor's language (``or`` with ``conjunction``)."""
    word = tr.gettext("or") if conjunction == "or" else tr.gettext("and")
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _names(tr: Translator, nodes: list[str]) -> str:
    shown = nodes[:MAX_NAMES_SHOWN]
    rest = len(nodes) - len(shown)
    if rest:
        more = tr.ngettext(
            "%(count)s other", "%(count)s others", rest, count=tr.number(rest)
        )
        return join(tr, [*shown, more])
    return join(tr, shown)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def human_size(tr: Translator, size: int) -> str:
    """A byte count for people: 1,5 Mo in French, 1.5 MB in English (SI units)."""
    units = (
        tr.gettext("%(size)s bytes"),
        tr.gettext("%(size)s kB"),
        tr.gettext("%(size)s MB"),
        tr.gettext("%(size)s GB"),
        tr.gettext("%(size)s TB"),
    )
    value = float(size)
    for unit in units:
        if value < 1000 or unit is units[-1]:
            shown = tr.number(round(value, 1) if value < 100 else round(value))
            return unit % {"size": shown}
        value /= 1000
    raise AssertionError("unreachable")


def _time(tr: Translator, hhmm: str) -> str:
    hours, _, minutes = hhmm.partition(":")
    if tr.language == "fr":
        return f"{int(hours)} h {minutes}"
    return f"{int(hours)}:{minutes}"


def _days(tr: Translator, days: list[str]) -> str:
    names = _day_names(tr)
    ordered = sorted({d for d in days if d in _DAYS}, key=_DAYS.index)
    if len(ordered) == 7:
        return tr.gettext("every day")
    indexes = [_DAYS.index(d) for d in ordered]
    if len(ordered) >= 3 and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return tr.gettext(
            "from %(first)s to %(last)s",
            first=names[ordered[0]],
            last=names[ordered[-1]],
        )
    return tr.gettext("on %(days)s", days=join(tr, [names[d] for d in ordered]))


def _window(tr: Translator, hours: Hours) -> str:
    days = _days(tr, list(hours.days))
    opens, closes = _time(tr, hours.opens), _time(tr, hours.closes)
    # schema.org OpeningHoursSpecification: a closing time at or before the
    # opening time ends the next day; 00:00 to 00:00 is the whole day.
    if hours.opens == hours.closes == "00:00":
        return tr.gettext("%(days)s, all day", days=days)
    if hours.closes <= hours.opens:
        return tr.gettext(
            "%(days)s, %(opens)s to %(closes)s the next day",
            days=days, opens=opens, closes=closes,
        )  # fmt: skip
    return tr.gettext(
        "%(days)s, %(opens)s to %(closes)s", days=days, opens=opens, closes=closes
    )


def _when(tr: Translator, offer: Offer) -> str:
    if not offer.hours:
        return tr.gettext("at any time")
    # French typography spaces a semicolon on both sides.
    separator = " ; " if tr.language == "fr" else "; "
    windows = separator.join(_window(tr, h) for h in offer.hours)
    return f"{windows} ({offer.timezone})"


def _period(tr: Translator, period: str) -> str:
    match = _PERIOD_RE.match(period)
    parts = [int(g) if g else 0 for g in match.groups()] if match else []
    if len([p for p in parts if p]) != 1:
        return tr.gettext("per period of %(period)s (ISO 8601)", period=period)
    # In the order of the ISO 8601 designators: Y, M, W, D, then H, M, S.
    units = (
        (tr.gettext("a year"), tr.gettext("every %(count)s years")),
        (tr.gettext("a month"), tr.gettext("every %(count)s months")),
        (tr.gettext("a week"), tr.gettext("every %(count)s weeks")),
        (tr.gettext("a day"), tr.gettext("every %(count)s days")),
        (tr.gettext("an hour"), tr.gettext("every %(count)s hours")),
        (tr.gettext("a minute"), tr.gettext("every %(count)s minutes")),
        (tr.gettext("a second"), tr.gettext("every %(count)s seconds")),
    )
    index, n = next((i, p) for i, p in enumerate(parts) if p)
    one, many = units[index]
    return one if n == 1 else many % {"count": tr.number(n)}


def _quota(tr: Translator, quota: Quota) -> str:
    if quota.unit == "byte":
        amount = human_size(tr, quota.limit)
    else:
        amount = tr.ngettext(
            "%(count)s request",
            "%(count)s requests",
            quota.limit,
            count=tr.number(quota.limit),
        )
    return tr.gettext(
        "up to %(amount)s %(period)s", amount=amount, period=_period(tr, quota.period)
    )


def _date(tr: Translator, value: str) -> str:
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return value
    return format_date(day, "long", locale=tr.language)


def _values(constraint: Constraint) -> list[str]:
    right = constraint.right
    return [str(v) for v in (right if isinstance(right, list) else [right])]


def _constraint(tr: Translator, c: Constraint) -> str | None:
    """A sentence for one constraint; None for a recipient (said under "who")."""
    values = _values(c)
    positive = c.operator in ("eq", "isAnyOf")
    negative = c.operator in ("neq", "isNoneOf")
    if c.left == "recipient" and positive:
        return None
    if c.left == "dateTime" and len(values) == 1:
        when = _date(tr, values[0])
        if c.operator in ("lt", "lteq"):
            return tr.gettext("Valid until %(date)s.", date=when)
        if c.operator in ("gt", "gteq"):
            return tr.gettext("Valid from %(date)s.", date=when)
    if c.left == "purpose" and (positive or negative):
        text = join(tr, values, conjunction="or")
        if positive:
            return tr.gettext("Only for this purpose: %(values)s.", values=text)
        return tr.gettext("Not for this purpose: %(values)s.", values=text)
    if c.left == "spatial" and (positive or negative):
        text = join(tr, values, conjunction="or")
        if positive:
            return tr.gettext("Only for this territory: %(values)s.", values=text)
        return tr.gettext("Not for this territory: %(values)s.", values=text)
    if c.left == "count" and c.operator in ("lt", "lteq") and len(values) == 1:
        try:
            limit = int(values[0]) - (1 if c.operator == "lt" else 0)
        except ValueError:
            limit = -1
        if limit >= 0:
            return tr.ngettext(
                "At most %(count)s use in all.",
                "At most %(count)s uses in all.",
                limit,
                count=tr.number(limit),
            )
    if c.left == "recipient" and negative:
        return tr.gettext("Not for: %(values)s.", values=_names(tr, values))
    # Anything else is shown as written: never silently dropped.
    return tr.gettext(
        "Condition: %(left)s %(operator)s %(right)s.",
        left=c.left, operator=c.operator, right=", ".join(values),
    )  # fmt: skip


def _recipients(offer: Offer) -> list[str]:
    """The nodes named by every permission's recipient constraint, if each has one."""
    named: list[str] = []
    for rule in offer.permissions:
        mine = [
            v
            for c in rule.constraints
            if c.left == "recipient" and c.operator in ("eq", "isAnyOf")
            for v in _values(c)
        ]
        if not mine:
            return []
        named += [v for v in mine if v not in named]
    return named


def _duties(
    tr: Translator, rules: list[Rule], publisher: str
) -> tuple[list[str], bool]:
    """Sentences for the duties, and whether one of them is a price."""
    sentences: list[str] = []
    priced = False
    for rule in rules:
        for duty in rule.duties:
            if duty.action == "compensate":
                priced = True
                if duty.amount is None:
                    sentences.append(
                        tr.gettext("A price is due, set in the agreement.")
                    )
                    continue
                price = f"{tr.number(duty.amount)} {duty.currency}".strip()
                units = {
                    "request": tr.gettext("per request"),
                    "month": tr.gettext("per month"),
                    "GB": tr.gettext("per GB"),
                }
                unit = units.get(duty.unit, duty.unit)
                sentences.append(
                    tr.gettext("Price: %(price)s %(unit)s.", price=price, unit=unit)
                    if unit
                    else tr.gettext("Price: %(price)s.", price=price)
                )
            elif duty.action == "reciprocate":
                sentences.append(
                    tr.gettext("In return: %(note)s.", note=duty.note.rstrip("."))
                    if duty.note
                    else tr.gettext("Something is due in return, set in the agreement.")
                )
            elif duty.action == "attribute":
                sentences.append(
                    tr.gettext(
                        "Credit %(publisher)s for the data.", publisher=publisher
                    )
                )
            else:
                sentences.append(
                    tr.gettext("Share what you derive under the same terms.")
                )
    unique = list(dict.fromkeys(sentences))
    return unique, priced


def offer_in_words(offer: Offer, tr: Translator, *, publisher: str) -> ContractWords:
    """Tell ``offer`` in sentences: who, what, when, how much, on what terms.

    Read from the published ODRL policy and profile terms, as the enforcer
    reads them (:mod:`node.enforcement`): an audience other than ``public``
    needs an agreement, hours are the offer's time zone's wall clock, quotas
    count per calendar period.  Constraints this function cannot phrase are
    shown as written rather than left out.
    """
    recipients = _recipients(offer)
    if recipients:
        subject = tr.gettext("Only %(nodes)s may", nodes=_names(tr, recipients))
        who = tr.gettext("Only these nodes: %(nodes)s.", nodes=_names(tr, recipients))
    elif offer.audience == "public":
        subject = tr.gettext("Anyone may")
        who = tr.gettext("Anyone, without asking for an agreement.")
    elif offer.audience == "members":
        subject = tr.gettext("Members of the community may")
        who = tr.gettext(
            "Members of the community, once they hold an agreement on this offer."
        )
    else:
        subject = tr.gettext("Nodes holding an agreement may")
        who = tr.gettext("Any node that holds an agreement on this offer.")

    actions = list(dict.fromkeys(_action(tr, r.action) for r in offer.permissions))
    doing = join(tr, actions)
    when = _when(tr, offer)
    quotas = join(tr, [_quota(tr, q) for q in offer.quotas])
    if quotas:
        summary = tr.gettext(
            "%(who)s %(actions)s, %(when)s, %(quotas)s.",
            who=subject, actions=doing, when=when, quotas=quotas,
        )  # fmt: skip
    else:
        summary = tr.gettext(
            "%(who)s %(actions)s, %(when)s.", who=subject, actions=doing, when=when
        )

    what = [tr.gettext("Permitted: %(actions)s.", actions=doing)]
    if offer.prohibitions:
        forbidden = join(
            tr, list(dict.fromkeys(_action(tr, r.action) for r in offer.prohibitions))
        )
        what.append(tr.gettext("Not permitted: %(actions)s.", actions=forbidden))
    several = len(offer.permissions) > 1
    for rule in offer.permissions:
        for c in rule.constraints:
            sentence = _constraint(tr, c)
            if sentence is None:
                continue
            if several:
                sentence = tr.gettext(
                    "To %(action)s: %(condition)s",
                    action=_action(tr, rule.action),
                    condition=sentence[:1].lower() + sentence[1:],
                )
            what.append(sentence)

    how_much = [_sentence(quotas)] if quotas else [tr.gettext("No quota.")]

    if "none" in offer.authentication:
        access = [tr.gettext("No identification is needed.")]
    else:
        methods = {
            "http-signature": tr.gettext(
                "be signed by the calling server (HTTP Signatures)"
            ),
            "agreement-token": tr.gettext("carry the token of the agreement"),
        }
        access = [
            tr.gettext(
                "Each request must %(methods)s.",
                methods=join(
                    tr,
                    [methods.get(m, m) for m in offer.authentication],
                    conjunction="or",
                ),
            )
        ]
    access.append(
        tr.gettext("Connections must be encrypted (HTTPS).")
        if offer.transport == "tls"
        else tr.gettext("Connections need not be encrypted.")
    )

    price, priced = _duties(tr, offer.permissions, publisher)
    if not priced:
        price.insert(0, tr.gettext("Free of charge."))

    if offer.audience == "public":
        agreement = tr.gettext("No agreement is needed.")
    elif isinstance(offer.auto_accept, list):
        agreement = tr.gettext(
            "Requests for an agreement from %(nodes)s are accepted automatically; "
            "an administrator examines the others.",
            nodes=_names(tr, offer.auto_accept),
        )
    elif offer.auto_accept == "any":
        agreement = tr.gettext("Requests for an agreement are accepted automatically.")
    else:
        agreement = tr.gettext(
            "Requests for an agreement from members of the community are accepted "
            "automatically; an administrator examines the others."
        )

    return ContractWords(
        summary=_sentence(summary),
        terms=[
            (tr.gettext("Who"), [who]),
            (tr.gettext("What"), what),
            (tr.gettext("When"), [_sentence(when)]),
            (tr.gettext("How much"), how_much),
            (tr.gettext("Access"), access),
            (tr.gettext("Price and reciprocity"), price),
            (tr.gettext("Agreement"), [agreement]),
        ],
    )
