"""The CLI as an operator meets it: init, migrate, refusals in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

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
