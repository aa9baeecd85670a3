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
import logging
from dataclasses import dataclass
from pathlib import Path

import click
from aiohttp import web

from node.app import create_app
from node.config import Config, load_config, render_config
from node.identity import create_keys
from node.server import _stop_on_signals, start_site

log = logging.getLogger("bocage.node.demo")


@dataclass(frozen=True)
class DemoNode:
    slug: str
    name: str
    actor_type: str
    username: str
    summary: str


DEMO_NODES = (
    DemoNode(
        "metropole",
        "Brest Métropole — données ouvertes",
        "Organization",
        "metropole",
        "Open data and services of a metropolis of 210,000 people.",
    ),
    DemoNode(
        "syndicat",
        "Syndicat régional des données de Bretagne",
        "Organization",
        "syndicat",
        "A public data syndicate pooling the data of the region's territories.",
    ),
    DemoNode(
        "cooperative",
        "Coopérative Énergies Citoyennes",
        "Group",
        "cooperative",
        "A citizens' energy cooperative sharing production and consumption data.",
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
    try:
        for config in configs:
            runners.append(await start_site(create_app(config), config))
        _print_welcome(configs, directory)
        with _stop_on_signals(stop):
            await stop.wait()
        click.echo("\nStopping the demo nodes…")
    finally:
        for runner in reversed(runners):
            with contextlib.suppress(asyncio.CancelledError):
                await runner.cleanup()
    click.echo("Stopped. Their data stays in " + str(directory) + ".")


def _print_welcome(configs: list[Config], directory: Path) -> None:
    click.echo("")
    click.secho("Bocage demo federation is running", bold=True)
    click.echo("")
    for config in configs:
        click.secho(f"  {config.node.name}", bold=True)
        click.echo(f"    address: {config.origin}/")
        click.echo(f"    health:  {config.origin}/healthz")
    click.echo("")
    click.echo("Try:")
    first = configs[0]
    click.echo(f"  curl {first.origin}/healthz")
    click.echo("")
    click.echo(f"Data is kept in {directory}/ (delete it to start afresh).")
    click.echo("Press Ctrl-C to stop all nodes.")
