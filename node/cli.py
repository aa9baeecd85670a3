"""The ``bocage`` command: init, serve, worker, migrate, demo.

Every refusal is one line on standard error and a non-zero exit status; a
traceback means a bug, never bad input.
"""

from __future__ import annotations

import asyncio
import html
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
import orjson

from node.config import Config, ConfigError, load_config, render_config
from node.identity import create_keys
from node.logs import configure_logging
from protocol.errors import BocageError
from storage.database import Database, redact_url
from storage.migrate import migrate as run_migrations

if TYPE_CHECKING:
    from federation.http import HttpPolicy
    from node.services import Node


class UsageError(BocageError):
    """The command cannot do what was asked (nothing to undo, no such actor)."""


CONFIG_OPTION = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="BOCAGE_CONFIG",
    default="bocage.toml",
    show_default=True,
    help="Configuration file (or $BOCAGE_CONFIG).",
)


def _load(config_path: Path, *, one_shot: bool = False) -> Config:
    config = load_config(config_path)
    # A one-shot command prints its outcome; routine INFO lines would be noise.
    level = "WARNING" if one_shot and config.log.level == "INFO" else config.log.level
    configure_logging(level, config.log.format)
    return config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bocage")
def cli() -> None:
    """Bocage: a federated node for open data, service offers and self-governance."""


@cli.command()
@click.argument("domain")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Where to write bocage.toml, keys/ and data/.",
)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--name", default="", help="Display name of the node's actor.")
@click.option(
    "--database",
    "database_url",
    default="sqlite:///data/bocage.sqlite",
    show_default=True,
    help="sqlite:///PATH or postgresql://USER@HOST/DB.",
)
@click.option(
    "--allow-private-host",
    "allow_private",
    multiple=True,
    help="A private or loopback host this node may federate with (repeatable).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing bocage.toml.")
def init(
    domain: str,
    directory: Path,
    port: int,
    name: str,
    database_url: str,
    allow_private: tuple[str, ...],
    force: bool,
) -> None:
    """Create a node for DOMAIN: configuration, key pairs and database."""
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "bocage.toml"
    if config_file.exists() and not force:
        raise ConfigError("", f"{config_file} exists; pass --force to overwrite it")
    config_file.write_text(
        render_config(
            domain=domain,
            database_url=database_url,
            port=port,
            name=name,
            allow_private_hosts=list(allow_private),
        ),
        encoding="utf-8",
    )
    config = load_config(config_file, environ={}, check_files=False)
    for key_file in (config.rsa_key_path, config.ed25519_key_path):
        if key_file.exists():
            if not force:
                raise ConfigError("keys", f"{key_file} exists; pass --force")
            key_file.unlink()
    create_keys(config)
    asyncio.run(_migrate(config))
    click.echo(f"Created {config_file} for {config.origin}")
    click.echo(f"  keys:     {config.rsa_key_path.parent}")
    click.echo(f"  database: {redact_url(config.database.url)}")
    click.echo(f"Start it with: bocage serve -c {config_file}")


async def _migrate(config: Config) -> tuple[str | None, str]:
    db = Database(config.database.url)
    try:
        return await run_migrations(db)
    finally:
        await db.close()


@cli.command()
@CONFIG_OPTION
def migrate(config_path: Path) -> None:
    """Bring the database schema up to date."""
    config = _load(config_path)
    before, after = asyncio.run(_migrate(config))
    if before == after:
        click.echo(f"Database already at revision {after}.")
    else:
        click.echo(f"Database migrated from {before or 'empty'} to {after}.")


@cli.command()
@CONFIG_OPTION
def serve(config_path: Path) -> None:
    """Run the node's web server (and its in-process worker, if configured)."""
    from node.server import serve as run_server  # noqa: PLC0415 - keeps --help fast

    config = _load(config_path)
    asyncio.run(run_server(config))


@cli.command()
@CONFIG_OPTION
@click.option("--concurrency", type=int, default=None, help="Jobs run at once.")
def worker(config_path: Path, concurrency: int | None) -> None:
    """Run jobs (deliveries, fetches, inbox processing) in this process."""
    from node.server import work  # noqa: PLC0415 - keeps --help fast

    config = _load(config_path)
    asyncio.run(work(config, concurrency=concurrency))


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default="demo-data",
    show_default=True,
    help="Where the demo keeps its nodes (reused between runs).",
)
@click.option("--base-port", type=int, default=8001, show_default=True)
def demo(directory: Path, base_port: int) -> None:
    """Start a demonstration federation on this machine (SQLite, loopback)."""
    from node.demo import run_demo  # noqa: PLC0415 - keeps --help fast

    configure_logging("WARNING", "text")
    asyncio.run(run_demo(directory, base_port))


def _with_node(config_path: Path, action: Callable[[Node], Awaitable[str]]) -> None:
    """Open the node in this process, run one operation, print its outcome."""
    from node.services import open_node  # noqa: PLC0415 - keeps --help fast

    config = _load(config_path, one_shot=True)

    async def run() -> str:
        async with open_node(config) as node:
            return await action(node)

    click.echo(asyncio.run(run()))


_DELIVERY_NOTE = "a running `bocage serve` or `bocage worker` delivers it"


@cli.command()
@CONFIG_OPTION
@click.argument("actor_url")
@click.option("--as", "username", default=None, help="Our actor (default: the node).")
def follow(config_path: Path, actor_url: str, username: str | None) -> None:
    """Follow a peer's actor (a Bocage node, a Mastodon account…) by its URL."""

    async def action(node: Node) -> str:
        who = username or node.config.node.username
        await node.federation.outbox.follow(who, actor_url)
        # Whom the node federates with is federation policy: on the record.
        await node.decisions.append("federation.follow", actor_url, {"by": who})
        return f"Follow of {actor_url} queued; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@cli.command()
@CONFIG_OPTION
@click.argument("actor_url")
@click.option("--as", "username", default=None, help="Our actor (default: the node).")
def unfollow(config_path: Path, actor_url: str, username: str | None) -> None:
    """Stop following a peer's actor."""

    async def action(node: Node) -> str:
        who = username or node.config.node.username
        undone = await node.federation.outbox.unfollow(who, actor_url)
        if undone is None:
            raise UsageError(f"{who} does not follow {actor_url}")
        await node.decisions.append("federation.unfollow", actor_url, {"by": who})
        return f"Undo of the follow queued; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@cli.command()
@CONFIG_OPTION
@click.argument("text")
@click.option("--as", "username", default=None, help="Our actor (default: the node).")
def post(config_path: Path, text: str, username: str | None) -> None:
    """Publish a short public note to the followers of one of our actors."""

    async def action(node: Node) -> str:
        who = username or node.config.node.username
        paragraphs = "".join(
            f"<p>{html.escape(part)}</p>" for part in text.split("\n\n") if part
        )
        activity = await node.federation.outbox.create_note(who, paragraphs)
        return f"Published {activity['object']['id']}; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@cli.command()
@CONFIG_OPTION
@click.argument("follower_url")
@click.option("--reject", is_flag=True, help="Refuse instead of accepting.")
@click.option("--as", "username", default=None, help="Our actor (default: the node).")
def approve(
    config_path: Path, follower_url: str, reject: bool, username: str | None
) -> None:
    """Answer a pending follow request (for actors that approve by hand)."""

    async def action(node: Node) -> str:
        who = username or node.config.node.username
        done = await node.federation.processor.decide_follow(
            who, follower_url, accept=not reject
        )
        if not done:
            raise UsageError(f"no pending follow of {who} by {follower_url}")
        await node.decisions.append(
            "federation.follow.reject" if reject else "federation.follow.accept",
            follower_url,
            {"actor": node.federation.fed.actor_iri(who)},
        )
        return f"{'Rejected' if reject else 'Accepted'} {follower_url}."

    _with_node(config_path, action)


@cli.command("manual-approval")
@CONFIG_OPTION
@click.argument("setting", type=click.Choice(["on", "off"]))
@click.option("--as", "username", default=None, help="Our actor (default: the node).")
def manual_approval(config_path: Path, setting: str, username: str | None) -> None:
    """Approve new followers by hand (on) or automatically (off)."""

    async def action(node: Node) -> str:
        who = username or node.config.node.username
        if who not in node.federation.local_users:
            raise UsageError(f"no actor {who!r} on this node")
        await node.federation.set_manual_approval(who, setting == "on")
        await node.decisions.append(
            "federation.approval",
            node.federation.fed.actor_iri(who),
            {"manual": setting == "on"},
        )
        return f"Manual approval of followers is {setting} for {who}."

    _with_node(config_path, action)


@cli.group()
def token() -> None:
    """Admin API tokens (stored hashed; shown once)."""


@token.command("create")
@CONFIG_OPTION
@click.argument("name")
def token_create(config_path: Path, name: str) -> None:
    """Create a token named NAME and print it (the only time it is shown)."""

    async def action(node: Node) -> str:
        secret = await node.tokens.create(name)
        return f"{secret}\n(keep it: only its hash is stored)"

    _with_node(config_path, action)


@token.command("revoke")
@CONFIG_OPTION
@click.argument("name")
def token_revoke(config_path: Path, name: str) -> None:
    """Revoke the token named NAME; it stops working at once."""

    async def action(node: Node) -> str:
        if not await node.tokens.revoke(name):
            raise UsageError(f"no active token named {name!r}")
        return f"Revoked {name}."

    _with_node(config_path, action)


@token.command("list")
@CONFIG_OPTION
def token_list(config_path: Path) -> None:
    """List tokens by name (never their values)."""

    async def action(node: Node) -> str:
        rows = await node.tokens.list()
        lines = [f"{t.name}\t{'revoked' if t.revoked else 'active'}" for t in rows]
        return "\n".join(lines) or "No tokens."

    _with_node(config_path, action)


@cli.group()
def record() -> None:
    """Our catalogue records: datasets and service offers."""


@record.command("put")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def record_put(config_path: Path, file: Path) -> None:
    """Create or replace a record from a JSON file (a service has an endpoint_url)."""
    from protocol.records import decode_dataset, decode_service  # noqa: PLC0415

    try:
        data = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{file} must hold one JSON object")
    parsed = decode_service(data) if "endpoint_url" in data else decode_dataset(data)

    async def action(node: Node) -> str:
        document, created = await node.catalogue.put(parsed)
        verb = "Published" if created else "Updated"
        return f"{verb} {document['id']}; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@record.command("delete")
@CONFIG_OPTION
@click.argument("kind", type=click.Choice(["dataset", "service"]))
@click.argument("slug")
def record_delete(config_path: Path, kind: str, slug: str) -> None:
    """Withdraw a record: it answers 410 and followers are told."""

    async def action(node: Node) -> str:
        name = "Dataset" if kind == "dataset" else "DataService"
        if not await node.catalogue.delete(name, slug):
            raise UsageError(f"no {kind} {slug!r} of ours")
        return f"Withdrew {kind} {slug}; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@cli.group()
def agreement() -> None:
    """Service agreements: ask peers for them, decide on theirs, end them."""


@agreement.command("list")
@CONFIG_OPTION
@click.option("--role", type=click.Choice(["provider", "consumer"]))
def agreement_list(config_path: Path, role: str | None) -> None:
    """Agreements on our offers (provider) and on peers' (consumer)."""

    async def action(node: Node) -> str:
        rows = await node.contracts.list(role)
        return (
            "\n".join(
                f"{r['id']}\t{r['role']}\t{r['state']}\t{r['offer']}\t"
                f"{r['consumer'] if r['role'] == 'provider' else r['provider']}"
                for r in rows
            )
            or "No agreements."
        )

    _with_node(config_path, action)


@agreement.command("request")
@CONFIG_OPTION
@click.argument("offer_iri")
def agreement_request(config_path: Path, offer_iri: str) -> None:
    """Ask the publisher of a service offer for an agreement on its terms."""

    async def action(node: Node) -> str:
        seq = await node.contracts.request(offer_iri)
        return f"Request {seq} sent; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@agreement.command("decide")
@CONFIG_OPTION
@click.argument("seq", type=int)
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--reason", default="", help="Told to the requester on reject.")
def agreement_decide(config_path: Path, seq: int, decision: str, reason: str) -> None:
    """Approve or reject a pending request on one of our offers."""

    async def action(node: Node) -> str:
        await node.contracts.decide(seq, accept=decision == "approve", reason=reason)
        return f"Request {seq}: {decision}d."

    _with_node(config_path, action)


@agreement.command("terminate")
@CONFIG_OPTION
@click.argument("seq", type=int)
def agreement_terminate(config_path: Path, seq: int) -> None:
    """End an agreement; the other side is told, and it stops working here now."""

    async def action(node: Node) -> str:
        await node.contracts.terminate(seq)
        return f"Agreement {seq} terminated."

    _with_node(config_path, action)


@agreement.command("token")
@CONFIG_OPTION
@click.argument("seq", type=int)
def agreement_token(config_path: Path, seq: int) -> None:
    """A bearer token for one of our agreements (shown once, stored hashed)."""

    async def action(node: Node) -> str:
        return await node.contracts.issue_token(seq)

    _with_node(config_path, action)


@cli.group()
def member() -> None:
    """The community's members: requests, invitations and decisions."""


@member.command("list")
@CONFIG_OPTION
@click.option("--state", default=None, help="Only this state (requested, member…).")
def member_list(config_path: Path, state: str | None) -> None:
    """Members and requests, with their state, role and college."""

    async def action(node: Node) -> str:
        rows = await node.membership.list(state)
        return (
            "\n".join(
                f"{r['actor']}\t{r['state']}\t{r['role']}\t{r['college']}" for r in rows
            )
            or "Nobody yet."
        )

    _with_node(config_path, action)


@member.command("decide")
@CONFIG_OPTION
@click.argument("actor")
@click.argument(
    "decision",
    type=click.Choice(["admit", "reject", "invite", "suspend", "reinstate", "exclude"]),
)
@click.option("--college", default="", help="For admit and invite.")
@click.option(
    "--role",
    default="member",
    type=click.Choice(["member", "moderator", "administrator"]),
)
@click.option("--reason", default="", help="Recorded in the decision log.")
def member_decide(
    config_path: Path, actor: str, decision: str, college: str, role: str, reason: str
) -> None:
    """Decide about ACTOR; every decision is appended to the public log."""

    async def action(node: Node) -> str:
        membership = node.membership
        if decision == "admit":
            await membership.admit(actor, college=college, role=role)
        elif decision == "reject":
            await membership.reject(actor, reason=reason)
        elif decision == "invite":
            await membership.invite(actor, college=college, role=role)
        elif decision == "suspend":
            await membership.suspend(actor, reason=reason)
        elif decision == "reinstate":
            await membership.reinstate(actor)
        else:
            await membership.exclude(actor, reason=reason)
        return f"{actor}: {decision} done."

    _with_node(config_path, action)


@cli.group()
def account() -> None:
    """Accounts for people who sign in on the node's pages."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@account.command("add")
@CONFIG_OPTION
@click.argument("username")
@click.option("--name", default="", help="The name shown on pages.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)
def account_add(
    config_path: Path, username: str, name: str, password_stdin: bool
) -> None:
    """Open an account USERNAME (also a fediverse actor of this node)."""
    password = _read_password(password_stdin)

    async def action(node: Node) -> str:
        from node.web.accounts import Accounts  # noqa: PLC0415

        created = await Accounts(node).create(username, password, name)
        return f"Account {created.username} opened: {created.actor}"

    _with_node(config_path, action)


@account.command("password")
@CONFIG_OPTION
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)
def account_password(config_path: Path, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password; every browser signed in as them is signed out."""
    password = _read_password(password_stdin)

    async def action(node: Node) -> str:
        from node.web.accounts import Accounts  # noqa: PLC0415

        await Accounts(node).set_password(username, password)
        return f"Password of {username} changed; its sessions are closed."

    _with_node(config_path, action)


@cli.group()
def charter() -> None:
    """The community's versioned charter."""


@charter.command("adopt")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="The version's title.")
@click.option("--reason", default="", help="Recorded with the decision.")
def charter_adopt(config_path: Path, file: Path, title: str, reason: str) -> None:
    """Adopt FILE (plain text) as the next version; recorded, then published."""
    text = file.read_text(encoding="utf-8")

    async def action(node: Node) -> str:
        version = await node.charter.adopt(title, text, reason=reason)
        return f"Charter version {version} adopted; {_DELIVERY_NOTE}."

    _with_node(config_path, action)


@cli.group()
def report() -> None:
    """Reports (Flag) and their mediation: decide, appeal, hear the appeal."""


@report.command("list")
@CONFIG_OPTION
@click.option("--state", default=None, help="open, decided, appealed or final.")
def report_list(config_path: Path, state: str | None) -> None:
    """Reports with their state and decision."""

    async def action(node: Node) -> str:
        rows = await node.moderation.list(state)
        return (
            "\n".join(
                f"{r['id']}\t{r['state']}\t{r['decision'] or '-'}\t{r['reporter']}\t"
                f"{', '.join(r['targets'])}\t{r['comment'][:60]}"
                for r in rows
            )
            or "No reports."
        )

    _with_node(config_path, action)


@report.command("decide")
@CONFIG_OPTION
@click.argument("report_id", type=int)
@click.argument(
    "decision", type=click.Choice(["dismiss", "warn", "hide", "suspend", "exclude"])
)
@click.option("--by", required=True, help="Who decides (recorded).")
@click.option(
    "--reason",
    default="",
    help="Recorded in the decision log, told to those concerned.",
)
@click.option(
    "--appeal", "final", is_flag=True, help="Hear an appeal (final decision)."
)
def report_decide(
    config_path: Path, report_id: int, decision: str, by: str, reason: str, final: bool
) -> None:
    """Decide on a report, or (--appeal) give the final decision on its appeal."""

    async def action(node: Node) -> str:
        if final:
            await node.moderation.hear(report_id, decision, by=by, reason=reason)
        else:
            await node.moderation.decide(report_id, decision, by=by, reason=reason)
        told = "the appellant is" if final else "the reported account and reporter are"
        return (
            f"Report {report_id}: {decision}, recorded; {told} told by a direct "
            f"note ({_DELIVERY_NOTE})."
        )

    _with_node(config_path, action)


@report.command("appeal")
@CONFIG_OPTION
@click.argument("report_id", type=int)
@click.option("--reason", required=True, help="Why the decision is contested.")
def report_appeal(config_path: Path, report_id: int, reason: str) -> None:
    """Record an appeal against a decision (within the appeal period)."""

    async def action(node: Node) -> str:
        await node.moderation.appeal(report_id, reason=reason)
        return f"Report {report_id}: appeal recorded; someone else must hear it."

    _with_node(config_path, action)


@cli.group()
def proposal() -> None:
    """Proposals: Questions members vote on from any fediverse account."""


@proposal.command("open")
@CONFIG_OPTION
@click.option("--title", required=True, help="The question, as voters see it.")
@click.option("--text", default="", help="The proposal's text.")
@click.option(
    "--rule",
    type=click.Choice(["majority", "supermajority", "consent", "judgment"]),
    default="majority",
    show_default=True,
)
@click.option("--quorum", default="0", help="Fraction of the electorate, e.g. 1/2.")
@click.option(
    "--threshold", default="2/3", help="For supermajority.", show_default=True
)
@click.option("--days", type=float, default=7.0, show_default=True, help="Voting time.")
@click.option("--college", default="", help="Only members of this college vote.")
@click.option(
    "--option", "options", multiple=True, help="An option to judge (judgment); repeat."
)
@click.option(
    "--grade",
    "grades",
    multiple=True,
    help="A grade, best first (judgment; default excellent … reject); repeat.",
)
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="COLLEGE=FRACTION",
    help="The weight of a college's ballots (default 1); repeat.",
)
@click.option(
    "--charter",
    "charter_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A charter text (plain text) that becomes the charter if adopted.",
)
@click.option(
    "--charter-title", default="", help="Its title (default: the proposal's)."
)
def proposal_open(
    config_path: Path, title: str, text: str, rule: str, quorum: str,
    threshold: str, days: float, college: str, options: tuple[str, ...],
    grades: tuple[str, ...], weights: tuple[str, ...], charter_file: Path | None,
    charter_title: str,
) -> None:  # fmt: skip
    """Open a proposal to the current members; the rule is fixed now."""
    from fractions import Fraction  # noqa: PLC0415

    try:
        quorum_value, threshold_value = Fraction(quorum), Fraction(threshold)
    except (ValueError, ZeroDivisionError):
        raise UsageError("quorum and threshold are fractions such as 1/2") from None
    weight_values: dict[str, Fraction] = {}
    for given in weights:
        name, _, value = given.partition("=")
        try:
            weight_values[name.strip()] = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise UsageError(f"--weight {given!r}: write COLLEGE=1/2") from None
    charter_text = charter_file.read_text(encoding="utf-8") if charter_file else ""

    async def action(node: Node) -> str:
        seq = await node.proposals.open(
            title, text, rule=rule, quorum=quorum_value, threshold=threshold_value,
            closes_in=days * 86400, college=college, options=options,
            grades=grades, weights=weight_values, charter_text=charter_text,
            charter_title=charter_title,
        )  # fmt: skip
        return f"Proposal {seq} open: {node.proposals.iri(seq)}"

    _with_node(config_path, action)


@proposal.command("list")
@CONFIG_OPTION
def proposal_list(config_path: Path) -> None:
    """Proposals, newest first: number, state, rule, end of voting, outcome."""
    import time  # noqa: PLC0415

    async def action(node: Node) -> str:
        rows = await node.proposals.list()
        return (
            "\n".join(
                f"{r['seq']}\t{r['state']}\t{r['rule']}\t"
                f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(r['closes_at']))}\t"
                f"{r['outcome'] or '-'}\t{r['title']}"
                for r in rows
            )
            or "No proposals."
        )

    _with_node(config_path, action)


@proposal.command("show")
@CONFIG_OPTION
@click.argument("seq", type=int)
def proposal_show(config_path: Path, seq: int) -> None:
    """Where a proposal stands: ballots counted so far, grades, outcome."""

    async def action(node: Node) -> str:
        live = await node.proposals.live(seq)
        lines = [
            f"{live['title']} ({live['rule']}, {live['state']})",
            f"{live['voters']} of {live['electorate']} voters",
        ]
        lines += [f"  {option}: {n}" for option, n in live["counts"].items()]
        for option, grade in live["majority_grades"].items():
            lines.append(f"  {option}: majority grade {grade}")
        lines += [f"  objection: {o['reason']}" for o in live["objections"]]
        if live["outcome"] is not None:
            lines.append(f"Outcome: {live['outcome']}. Tally: {live['tally']}")
        return "\n".join(lines)

    _with_node(config_path, action)


@proposal.command("close")
@CONFIG_OPTION
@click.argument("seq", type=int)
def proposal_close(config_path: Path, seq: int) -> None:
    """Close a proposal now: tally, publish, record."""

    async def action(node: Node) -> str:
        document = await node.proposals.close(seq)
        url = f"{node.proposals.iri(seq)}/tally"
        return f"Proposal {seq}: {document['result']['outcome']}. Tally: {url}"

    _with_node(config_path, action)


_IMPORT_TYPES = {
    ".ttl": "text/turtle",
    ".jsonld": "application/ld+json",
    ".json": "application/ld+json",
    ".rdf": "application/rdf+xml",
    ".xml": "application/rdf+xml",
}


@cli.command("import")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--type",
    "media_type",
    type=click.Choice(sorted(set(_IMPORT_TYPES.values()))),
    help="Media type (default: from the file name).",
)
def import_(config_path: Path, file: Path, media_type: str | None) -> None:
    """Import a DCAT catalogue (Turtle, JSON-LD or RDF/XML) into our catalogue."""
    chosen = media_type or _IMPORT_TYPES.get(file.suffix.lower())
    if chosen is None:
        raise UsageError(f"cannot tell the type of {file.name}; pass --type")
    data = file.read_bytes()

    async def action(node: Node) -> str:
        with click.progressbar(length=1, label="Importing", file=sys.stderr) as bar:
            last = [0]

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - last[0])
                last[0] = done

            summary = await node.catalogue.import_catalogue(
                data, chosen, progress=progress
            )
        lines = [
            f"{len(summary.created)} created, {len(summary.updated)} updated, "
            f"{len(summary.refused)} refused."
        ]
        lines += [
            f"  refused {subject}: {reason}" for subject, reason in summary.refused
        ]
        return "\n".join(lines)

    _with_node(config_path, action)


@cli.command("verify-tally")
@click.argument("url")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow a loopback or private address (a demo node, a test).",
)
def verify_tally_command(url: str, allow_private: bool) -> None:
    """Recompute a published tally from what it publishes, and say if it holds."""
    from federation.http import HttpClient  # noqa: PLC0415
    from protocol.tally import verify_tally  # noqa: PLC0415

    policy = _reader_policy(url, allow_private)

    async def fetch() -> object:
        client = HttpClient(policy)
        try:
            response = await client.request(
                "GET",
                url,
                headers={"Accept": "application/json"},
                follow_redirects=True,
            )
        finally:
            await client.close()
        if response.status != 200:
            raise UsageError(f"{url} answered {response.status}")
        try:
            return response.json()
        except orjson.JSONDecodeError:
            raise UsageError(f"{url} is not JSON") from None

    document = asyncio.run(fetch())
    if not isinstance(document, dict):
        raise UsageError(f"{url} is not a tally document")
    result = verify_tally(document)
    if result.ok:
        kind = "secret-ballot tally (hashes and totals)" if result.secret else "tally"
        click.echo(f"OK: the {kind} at {url} recomputes exactly.")
        return
    for mismatch in result.mismatches:
        click.echo(
            f"MISMATCH {mismatch.field}: published {mismatch.published!r}, "
            f"recomputed {mismatch.recomputed!r}",
            err=True,
        )
    sys.exit(1)


def _reader_policy(url: str, allow_private: bool) -> HttpPolicy:
    """Outbound limits for a verify command; its own host allowed if asked."""
    from federation.http import HttpPolicy  # noqa: PLC0415 - keeps --help fast

    host = (urlsplit(url).hostname or "").lower()
    return HttpPolicy(allow_private_hosts=frozenset({host} if allow_private else set()))


@cli.command("verify-log")
@click.argument("url")
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="A mirror of the same log (its /log/mirrors/HOST) to compare; repeatable.",
)
@click.option(
    "--max-lag",
    type=float,
    default=2 * 3600.0,
    show_default=True,
    help="Seconds a mirror may trail the origin before it counts as withholding.",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow a loopback or private address (a demo node, a test).",
)
def verify_log_command(
    url: str, mirrors: tuple[str, ...], max_lag: float, allow_private: bool
) -> None:
    """Check a decision log (URL of its /log, or of a mirror's copy): chain,
    signatures, checkpoints and their consistency.  With --mirror, also check
    that each mirror's checkpoints are consistent with the log at URL and that
    neither side hides entries the other shows.  One line per problem; exit
    status 1 when there is any."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from federation.http import FetchError, HttpClient, HttpPolicy  # noqa: PLC0415
    from node.decisions import (  # noqa: PLC0415 - keeps --help fast
        PublishedLog,
        fetch_log_keys,
        judge_logs,
        read_published_log,
    )

    url = url.rstrip("/")
    hosts = {(urlsplit(u).hostname or "").lower() for u in (url, *mirrors)}
    policy = HttpPolicy(allow_private_hosts=frozenset(hosts if allow_private else ()))

    async def gather() -> tuple[
        PublishedLog, list[PublishedLog | FetchError], dict[str, Any], list[str]
    ]:
        client = HttpClient(policy)
        try:
            try:
                main = await read_published_log(client, url)
            except FetchError as exc:
                raise UsageError(f"cannot read the log: {exc}") from None
            copies: list[PublishedLog | FetchError] = []
            for mirror in mirrors:
                try:
                    copies.append(
                        await read_published_log(client, mirror.rstrip("/"), forks=True)
                    )
                except FetchError as exc:
                    copies.append(exc)
            readable = [main, *(c for c in copies if isinstance(c, PublishedLog))]
            keys, notes = await fetch_log_keys(client, readable)
            return main, copies, keys, notes
        finally:
            await client.close()

    main, copies, keys, notes = asyncio.run(gather())
    verdict = judge_logs(main, copies, keys, now=datetime.now(UTC), max_lag=max_lag)
    for line in [*notes, *verdict.lines]:
        click.echo(line)
    for problem in verdict.problems:
        click.echo(problem, err=True)
    if verdict.problems:
        sys.exit(1)


def main() -> None:
    """Entry point: run the CLI, turning our errors into one line each."""
    try:
        status = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BocageError as exc:
        click.echo(f"bocage: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(status, int):
        sys.exit(status)
