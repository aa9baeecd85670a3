"""The CLI as an operator meets it: init, migrate, refusals in one line."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from aiohttp import web

from protocol.tally import Ballot, Electorate, Majority, tally, tally_document
from tests.conftest import free_port
from tests.processes import run_cli


def test_init_creates_config_keys_and_database(tmp_path: Path) -> None:
    result = run_cli("init", "brest.test", "--dir", str(tmp_path), "--port", "8123")
    assert result.returncode == 0, result.stderr
    assert "Created" in result.stdout
    assert (tmp_path / "bocage.toml").is_file()
    for key in ("rsa.pem", "ed25519.pem"):
        mode = (tmp_path / "keys" / key).stat().st_mode & 0o777
        assert mode == 0o600, f"{key} is readable by others ({oct(mode)})"
    assert (tmp_path / "data" / "bocage.sqlite").is_file()

    again = run_cli("init", "brest.test", "--dir", str(tmp_path))
    assert again.returncode == 2
    assert again.stderr.strip().endswith("exists; pass --force to overwrite it")

    migrated = run_cli("migrate", "-c", str(tmp_path / "bocage.toml"))
    assert migrated.returncode == 0
    assert "already at revision" in migrated.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BOCAGE_HTTP_PORT": "eighty"}, "http.port: expected `int`"),
        ({"BOCAGE_DATABASE_URL": "mysql://db/x"}, "database.url: unsupported"),
        ({"BOCAGE_NODE_COLOUR": "green"}, "node.colour: unknown key"),
        ({"BOCAGE_KEYS_RSA_PRIVATE": "/nonexistent.pem"}, "keys.rsa_private:"),
    ],
)
def test_bad_configuration_is_one_line_without_traceback(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    assert run_cli("init", "a.test", "--dir", str(tmp_path)).returncode == 0
    result = run_cli("serve", "-c", str(tmp_path / "bocage.toml"), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bocage: error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("serve", "-c", str(tmp_path / "none.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"bocage: error: config file {tmp_path / 'none.toml'} does not exist"
    )


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        run_cli("init", "a.test", "--dir", str(tmp_path), "--port", str(port))
        result = run_cli("serve", "-c", str(tmp_path / "bocage.toml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"bocage: error: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_operator_commands(tmp_path: Path) -> None:
    assert run_cli("init", "a.test", "--dir", str(tmp_path)).returncode == 0
    conf = str(tmp_path / "bocage.toml")

    posted = run_cli("post", "-c", conf, "Hello\n\nfrom the CLI")
    assert posted.returncode == 0, posted.stderr
    assert posted.stdout.startswith("Published https://a.test/objects/")

    unreachable = run_cli("follow", "-c", conf, "https://127.0.0.1:1/actors/x")
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("bocage: error: https://127.0.0.1:1/actors/x")
    assert "Traceback" not in unreachable.stderr

    nothing = run_cli("approve", "-c", conf, "https://b.test/actors/y")
    assert nothing.returncode == 2
    assert "no pending follow of node by https://b.test/actors/y" in nothing.stderr

    manual = run_cli("manual-approval", "-c", conf, "on")
    assert manual.returncode == 0
    assert "on for node" in manual.stdout

    # Federation policy is on the public record; the failed follow is not.
    with sqlite3.connect(tmp_path / "data" / "bocage.sqlite") as db:
        rows = db.execute("SELECT document FROM decision_entries").fetchall()
    entries = [json.loads(row[0]) for row in rows]
    assert [(e["kind"], e["body"]) for e in entries] == [
        ("federation.approval", {"manual": True})
    ]


async def test_verify_tally_recomputes_a_published_tally(tmp_path: Path) -> None:
    opened = datetime(2026, 11, 2, 9, tzinfo=UTC)
    voters = [f"https://coop.example/users/{n}" for n in ("ana", "bob", "cyd")]
    ballots = [
        Ballot(
            id=f"https://coop.example/ballots/{i}",
            voter=voter,
            college="members",
            cast_at=opened + timedelta(hours=i),
            choice=choice,
        )
        for i, (voter, choice) in enumerate(
            zip(voters, ["yes", "yes", "no"], strict=True)
        )
    ]
    result = tally(
        Majority(Fraction(1, 2)),
        ("yes", "no", "abstain"),
        ballots,
        Electorate(dict.fromkeys(voters, "members")),
        opened + timedelta(days=7),
    )
    good = tally_document(result)
    forged = {**good, "result": {**good["result"], "outcome": "rejected"}}
    documents = {"/good": good, "/forged": forged}

    async def serve(request: web.Request) -> web.Response:
        return web.json_response(documents[request.path])

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        base = f"http://127.0.0.1:{port}"
        ok = await asyncio.to_thread(
            run_cli, "verify-tally", f"{base}/good", "--allow-private"
        )
        assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stderr
        bad = await asyncio.to_thread(
            run_cli, "verify-tally", f"{base}/forged", "--allow-private"
        )
        assert bad.returncode == 1 and "MISMATCH result.outcome" in bad.stderr
        # Without --allow-private a loopback address is refused, in one line.
        refused = await asyncio.to_thread(run_cli, "verify-tally", f"{base}/good")
        assert refused.returncode == 2 and refused.stderr.startswith("bocage: error:")
    finally:
        await runner.cleanup()
