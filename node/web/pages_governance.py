"""Pages of governance: proposals, the charter, the decision log, the members.

A proposal's page shows its live results and how to vote from any fediverse
account (follow the node, answer the poll); members signed in here can also
cast what a poll cannot carry: a graded ballot (majority judgment) or a
reasoned objection (consent).  Both go through ``Proposals.cast``, the same
entry point as votes arriving by ActivityPub, so the same eligibility rules
apply.
"""

from __future__ import annotations

import difflib

from aiohttp import web
from sqlalchemy import func, select

from node.appkeys import NODE
from node.governance import MEMBER
from node.proposals import ProposalError
from node.web.accounts import load_account
from node.web.pages_people import require_account, see_other
from node.web.render import (
    checked_form,
    handle_of,
    page,
    query_int,
    render,
    translator,
)
from node.web.replies import replies_to
from storage.tables import decision_checkpoints, decision_entries

LOG_PAGE = 50
LIST_PAGE = 100  # members or decided proposals per page: far under 100 KB


def page_number(request: web.Request) -> int:
    return max(1, query_int(request, "n") or 1)


# What each kind of decision means, in words (translated in messages.FRENCH).
KINDS = {
    "membership.admit": "A member admitted",
    "membership.reject": "A membership request refused",
    "membership.join": "A member joined by invitation",
    "membership.leave": "A member left",
    "membership.suspend": "A member suspended",
    "membership.reinstate": "A member reinstated",
    "membership.exclude": "A member excluded",
    "charter.adopt": "A charter version adopted",
    "proposal.close": "A proposal closed",
    "contract.accept": "An agreement accepted",
    "contract.reject": "An agreement refused",
    "contract.terminate": "An agreement ended",
    "moderation.decide": "A report decided",
    "moderation.appeal": "An appeal heard",
    "federation.follow.accept": "A follow request decided",
    "federation.follow.reject": "A follow request decided",
    "federation.follow": "A node followed",
    "federation.unfollow": "A node no longer followed",
    "federation.approval": "How followers are approved",
}
RULES = {
    "majority": "Simple majority",
    "supermajority": "Supermajority",
    "consent": "Consent",
    "judgment": "Majority judgment",
}


# --- charter ----------------------------------------------------------------------


async def charter_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    number = request.match_info.get("number")
    row = (
        await node.charter.version(int(number))
        if number is not None
        else await node.charter.latest()
    )
    if row is None:
        if number is not None:
            raise web.HTTPNotFound(reason=tr.gettext("No such version of the charter."))
        return await render(
            request, "charter.html", title=tr.gettext("Charter"), row=None,
            paragraphs=[], versions=[],
        )  # fmt: skip
    latest = await node.charter.latest()
    count = latest["version"] if latest else 0
    versions = [await node.charter.version(n) for n in range(count, 0, -1)]
    paragraphs = [p.strip() for p in row["text"].split("\n\n") if p.strip()]
    return await render(
        request, "charter.html", title=row["title"], row=row, paragraphs=paragraphs,
        versions=[v for v in versions if v is not None], latest=count,
    )  # fmt: skip


async def charter_diff_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    try:
        old, new = int(request.query["from"]), int(request.query["to"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(
            reason=tr.gettext("Give two version numbers: from= and to=.")
        ) from None
    first, second = await node.charter.version(old), await node.charter.version(new)
    if first is None or second is None:
        raise web.HTTPNotFound(reason=tr.gettext("No such version of the charter."))
    lines = []
    for line in difflib.unified_diff(
        first["text"].splitlines(), second["text"].splitlines(), lineterm="", n=2
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "added", "-": "removed", "@": "hunk"}.get(line[:1], "same")
        lines.append((kind, line[1:] if kind != "hunk" else ""))
    return await render(
        request, "charter_diff.html", title=tr.gettext("Changes to the charter"),
        old=first, new=second, lines=lines,
    )  # fmt: skip


# --- decision log -------------------------------------------------------------------


async def log_page(request: web.Request) -> web.Response:
    """Entries newest first, LOG_PAGE at a time (``?upto=N``), and how to verify."""
    node = request.app[NODE]
    tr = translator(request)
    upto = query_int(request, "upto")
    stmt = select(decision_entries.c.idx, decision_entries.c.document)
    if upto is not None:
        stmt = stmt.where(decision_entries.c.idx <= upto)
    async with node.db.read() as conn:
        rows = (
            await conn.execute(
                stmt.order_by(decision_entries.c.idx.desc()).limit(LOG_PAGE + 1)
            )
        ).all()
        total = (
            await conn.execute(select(func.count()).select_from(decision_entries))
        ).scalar_one()
        checkpoint = (
            await conn.execute(
                select(decision_checkpoints.c.document)
                .order_by(decision_checkpoints.c.size.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    entries = [row.document for row in rows[:LOG_PAGE]]
    older = rows[LOG_PAGE].idx if len(rows) > LOG_PAGE else None
    return await render(
        request, "log.html", title=tr.gettext("Decision log"), entries=entries,
        total=total, checkpoint=checkpoint, older=older, kinds=KINDS,
    )  # fmt: skip


# --- members ------------------------------------------------------------------------


async def members_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    rows = await node.membership.list(MEMBER)
    members = [
        {**row, "handle": handle_of(row["actor"])}
        for row in sorted(rows, key=lambda r: (r["college"], r["created_at"]))
    ]
    colleges = sorted({m["college"] for m in members if m["college"]})
    n = page_number(request)
    shown = members[(n - 1) * LIST_PAGE : n * LIST_PAGE]
    return await render(
        request, "members.html", title=tr.gettext("Members"), members=shown,
        total=len(members), colleges=colleges, n=n,
        more=len(members) > n * LIST_PAGE,
    )  # fmt: skip


# --- proposals ----------------------------------------------------------------------


async def proposals_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    items = await node.proposals.list()
    closed = [p for p in items if p["state"] != "open"]
    n = page_number(request)
    return await render(
        request, "proposals.html", title=tr.gettext("Proposals"), rule_names=RULES,
        open=[p for p in items if p["state"] == "open"] if n == 1 else [],
        closed=closed[(n - 1) * LIST_PAGE : n * LIST_PAGE], n=n,
        more=len(closed) > n * LIST_PAGE, outcomes=OUTCOMES,
    )  # fmt: skip


OUTCOMES = {
    "adopted": "adopted",
    "rejected": "rejected",
    "no-decision": "no decision (quorum not reached)",
    "winner": "chosen",
    "tie": "a tie",
}


async def proposal_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    tr = translator(request)
    seq = int(request.match_info["seq"])
    account = await load_account(request)
    voter = account.actor if account is not None else None
    try:
        live = await node.proposals.live(seq, voter=voter)
    except ProposalError:
        raise web.HTTPNotFound(reason=tr.gettext("No such proposal.")) from None
    you = live.get("you", {})
    eligible, voted = you.get("eligible", False), you.get("counted", False)
    return await render(
        request, "proposal.html", title=live["title"], p=live, seq=seq,
        eligible=eligible, voted=voted,
        done=request.query.get("done", ""), rule_names=RULES, outcomes=OUTCOMES,
        replies=await replies_to(node, live["iri"]), reply_iri=live["iri"],
    )  # fmt: skip


async def cast_ballot(request: web.Request) -> web.StreamResponse:
    """A member's ballot from the page: grades, or a choice with a reason."""
    node = request.app[NODE]
    tr = translator(request)
    seq = int(request.match_info["seq"])
    form = await checked_form(request)
    account = await require_account(request)
    try:
        live = await node.proposals.live(seq)
    except ProposalError:
        raise web.HTTPNotFound(reason=tr.gettext("No such proposal.")) from None
    try:
        if live["rule"] == "judgment":
            judgments = {
                option: form[f"grade-{index}"]
                for index, option in enumerate(live["options"])
                if form.get(f"grade-{index}")
            }
            await node.proposals.cast(seq, account.actor, judgments=judgments)
        else:
            await node.proposals.cast(
                seq, account.actor, choice=form.get("choice", ""),
                reason=form.get("reason", "").strip(),
            )  # fmt: skip
    except ProposalError as exc:
        raise web.HTTPConflict(reason=tr.gettext(str(exc))) from None
    return see_other(f"/proposals/{seq}?done=voted")


def setup(app: web.Application) -> None:
    page(app, "/charter", charter_page)
    page(app, "/charter/versions/{number}", charter_page)
    page(app, "/charter/diff", charter_diff_page)
    page(app, "/log", log_page)
    page(app, "/members", members_page)
    page(app, "/proposals/{seq}", proposal_page)
    app.router.add_get("/proposals", proposals_page)
    app.router.add_post("/proposals/{seq:\\d+}/ballot", cast_ballot)
