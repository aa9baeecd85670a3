"""``bocage demo``: a small federation on this machine, for a first look.

Three nodes on loopback — a metropolis, a regional data syndicate and a
cooperative — each with its own SQLite database under the demo folder.  Their
addresses are plain ``http://127.0.0.1:PORT`` so a browser, curl or any other
fediverse software on this machine reaches them with no set-up.  The folder is
kept between runs; delete it to start afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from aiohttp import web
from sqlalchemy import func, select

from node.app import create_app
from node.appkeys import NODE
from node.config import Config, load_config, render_config
from node.demo_data import (
    CHARTER_TEXT,
    CHARTER_TITLE,
    DEMO_ACCOUNT,
    DEMO_PASSWORD,
    DEMO_PROPOSALS,
    FILES,
    records_for,
)
from node.identity import create_keys
from node.server import start_site, stop_on_signals
from node.services import Node
from node.web.accounts import Accounts
from protocol.records import decode_dataset, decode_service
from storage.tables import follows, objects

log = logging.getLogger("bocage.node.demo")


@dataclass(frozen=True)
class DemoNode:
    slug: str
    name: str
    actor_type: str
    username: str
    summary: str
    posts: tuple[str, ...] = ()


DEMO_NODES = (
    DemoNode(
        "metropole",
        "Brest Métropole — données ouvertes",
        "Organization",
        "metropole",
        "Open data and services of a metropolis of 210,000 people.",
        (
            "<p>Nouveau : les horaires temps réel du réseau de bus et de tramway "
            "sont publiés en GTFS-RT, mis à jour toutes les 30 secondes.</p>",
            "<p>La carte des 1 200 arceaux vélo de la métropole est ouverte "
            "(licence ODbL). Signalez un arceau manquant en répondant ici.</p>",
        ),
    ),
    DemoNode(
        "syndicat",
        "Syndicat régional des données de Bretagne",
        "Organization",
        "syndicat",
        "A public data syndicate pooling the data of the region's territories.",
        (
            "<p>Le catalogue régional rassemble désormais 14 territoires : "
            "adresses, cadastre et qualité de l'air au même endroit.</p>",
        ),
    ),
    DemoNode(
        "cooperative",
        "Coopérative Énergies Citoyennes",
        "Group",
        "cooperative",
        "A citizens' energy cooperative sharing production and consumption data.",
        (
            "<p>Production solaire de novembre : 41 MWh sur nos 23 toitures "
            "citoyennes. Les courbes au pas horaire sont en accès libre.</p>",
        ),
    ),
)


def prepare_node(directory: Path, spec: DemoNode, port: int) -> Config:
    """Create the node's folder on first run; read its configuration."""
    folder = directory / spec.slug
    config_file = folder / "bocage.toml"
    if not config_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        text = render_config(
            domain=f"127.0.0.1:{port}",
            database_url="sqlite:///data/bocage.sqlite",
            port=port,
            name=spec.name,
            allow_private_hosts=["127.0.0.1", "localhost"],
            actor_type=spec.actor_type,
            username=spec.username,
        )
        config_file.write_text(text, encoding="utf-8")
        config = load_config(config_file, environ={}, check_files=False)
        create_keys(config)
    config = load_config(config_file, environ={})
    if config.http.port != port:
        raise click.UsageError(
            f"{config_file} was made for port {config.http.port}; "
            f"use --base-port {config.http.port - DEMO_NODES.index(spec)} "
            f"or delete {directory}"
        )
    config.node.summary = config.node.summary or spec.summary
    return config


async def run_demo(directory: Path, base_port: int) -> None:
    """Start the demo nodes, say what to try, and stop them all on Ctrl-C."""
    configs = [
        prepare_node(directory, spec, base_port + index)
        for index, spec in enumerate(DEMO_NODES)
    ]
    runners: list[web.AppRunner] = []
    stop = asyncio.Event()
    # Ctrl-C at any moment, even while the nodes start, stops them cleanly.
    with stop_on_signals(stop):
        try:
            apps = []
            for config in configs:
                app = create_app(config)
                runners.append(await start_site(app, config))
                apps.append(app)
            _print_welcome(configs, directory)
            befriending = asyncio.create_task(_befriend([a[NODE] for a in apps]))
            await stop.wait()
            click.echo("\nStopping the demo nodes…")
            if not befriending.done():
                befriending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await befriending
        finally:
            for runner in reversed(runners):
                with contextlib.suppress(asyncio.CancelledError):
                    await runner.cleanup()
    click.echo("Stopped. Their data stays in " + str(directory) + ".")


async def _befriend(nodes: list[Node]) -> None:
    """Each node follows the others and has something to show, on first run."""
    first_run = await _count(nodes[0], objects) == 0
    for node, spec in zip(nodes, DEMO_NODES, strict=True):
        outbox = node.federation.outbox
        me = node.config.node.username
        async with node.db.read() as conn:
            followed = set(
                (
                    await conn.execute(
                        select(follows.c.followee).where(
                            follows.c.follower == node.federation.fed.actor_iri(me)
                        )
                    )
                ).scalars()
            )
            published = (
                await conn.execute(select(func.count()).select_from(objects))
            ).scalar_one()
        for other in nodes:
            target = other.federation.fed.actor_iri(other.config.node.username)
            if other is not node and target not in followed:
                await outbox.follow(me, target)
        if not published:
            # Let the follows be accepted first, so the posts reach the peers.
            await asyncio.sleep(1.0)
            for post in spec.posts:
                await outbox.create_note(me, post)
            await publish_demo_records(node, spec.slug)

    if first_run:
        await _negotiate(nodes)
        await _govern(nodes[0])


async def _govern(metropole: Node) -> None:
    """The metropolis adopts a charter, opens two proposals, and has a citizen
    with an account on its pages who is a member and can cast graded ballots."""
    await metropole.charter.adopt(CHARTER_TITLE, CHARTER_TEXT)
    account = await Accounts(metropole).create(
        DEMO_ACCOUNT, DEMO_PASSWORD, "Camille (démo)"
    )
    await metropole.membership.request(account.actor)
    await metropole.membership.admit(account.actor, college="citizens")
    for proposal in DEMO_PROPOSALS:
        await metropole.proposals.open(**proposal)


async def _count(node: Node, table: Any) -> int:
    async with node.db.read() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table))).scalar_one()
        )


async def _negotiate(nodes: list[Node]) -> None:
    """The syndicate and the cooperative join the metropolis' community, which
    admits them; then the syndicate asks for the parking API and, being a
    member, gets an agreement at once.  Each decision is in the metropolis'
    public decision log."""
    metropole, syndicat, cooperative = nodes
    colleges = {syndicat: "territories", cooperative: "cooperatives"}
    for node in colleges:
        await node.membership.join(metropole.federation.fed.actor_iri("metropole"))
    for node, college in colleges.items():
        actor = node.federation.fed.actor_iri(node.config.node.username)
        for _ in range(100):
            found = await metropole.membership.get(actor)
            if found is not None and found["state"] == "requested":
                await metropole.membership.admit(actor, college=college)
                break
            await asyncio.sleep(0.1)
    offer = f"{metropole.config.origin}/services/api-parkings"
    await syndicat.contracts.request(offer)


async def publish_demo_records(node: Node, slug: str) -> None:
    """Store the demo files and publish the node's datasets and offers."""
    folder = Path(node.config.node.data_dir) / "files"
    folder.mkdir(parents=True, exist_ok=True)
    urls: dict[str, str] = {}
    for name, content in FILES.get(slug, {}).items():
        sha = hashlib.sha256(content).hexdigest()
        (folder / sha).write_bytes(content)
        urls[name] = node.catalogue.file_url(sha)
    for data in records_for(slug, urls):
        record = (
            decode_service(data) if "endpoint_url" in data else decode_dataset(data)
        )
        await node.catalogue.put(record)


def _print_welcome(configs: list[Config], directory: Path) -> None:
    click.echo("")
    click.secho(
        "Bocage demo federation is running: three nodes following each other", bold=True
    )
    click.echo("")
    for config in configs:
        actor = f"{config.origin}/actors/{config.node.username}"
        click.secho(f"  {config.node.name}", bold=True)
        click.echo(f"    address: {config.origin}/")
        click.echo(f"    actor:   {actor}")
        click.echo(f"    handle:  @{config.node.username}@{config.node.domain}")
    first, second = configs[0], configs[1]
    actor = f"{first.origin}/actors/{first.node.username}"
    as_json = "-H 'Accept: application/activity+json'"
    click.echo("")
    click.echo("Open in a browser (French or English, as your browser asks):")
    click.echo(f"  {first.origin}/                    # the metropolis' home page")
    click.echo(f"  {first.origin}/catalogue?q=velo    # search the open data")
    click.echo(f"  {first.origin}/proposals           # two proposals open for votes")
    click.echo(f"  {first.origin}/log                 # the public decision log")
    click.echo(
        f"  {first.origin}/signin  as {DEMO_ACCOUNT} / {DEMO_PASSWORD}"
        "  (a demo member: grade the options of a proposal)"
    )
    click.echo("")
    click.echo("Try, as a server would:")
    click.echo(
        f"  curl '{first.origin}/.well-known/webfinger?resource="
        f"acct:{first.node.username}@{first.node.domain}'"
    )
    click.echo(f"  curl {as_json} {actor}")
    click.echo(f"  curl {as_json} '{actor}/outbox?page=1'     # its publications")
    click.echo(f"  curl {as_json} '{actor}/followers?page=1'  # the two other nodes")
    click.echo(f"  curl {first.origin}/healthz                # database and job queue")
    click.echo(
        f"  open {first.origin}/datasets/arceaux-velo     # a signed DCAT-AP record"
    )
    click.echo(
        f"  curl '{first.origin}/catalogue?page=1&format=ttl'  # catalogue in Turtle"
    )
    click.echo(
        f"  curl '{second.origin}/catalogue/search?q=velo'  "
        "# the syndicate mirrors the metropolis"
    )
    click.echo(f"  curl {as_json} '{first.origin}/log?page=1'  # the decision log")
    command = sys.argv[0] if sys.argv and sys.argv[0].endswith("bocage") else "bocage"
    click.echo(f"  {command} verify-log {first.origin}/log --allow-private")
    click.echo(
        f"  curl {as_json} {first.origin}/members  # who belongs to the community"
    )
    click.echo(
        "  From another fediverse server on this machine, search for an actor URL "
        "above and follow it."
    )
    click.echo(f"  (node 2 is {second.origin}/, node 3 is {configs[2].origin}/)")
    click.echo("")
    click.echo(f"Data is kept in {directory}/ (delete it to start afresh).")
    click.echo("Press Ctrl-C to stop all nodes.")
