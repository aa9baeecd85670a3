"""Configuration: merged from file and environment, refused with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import ConfigError, load_config, render_config


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bocage.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_from_a_minimal_file(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[node]\ndomain = "Brest.Test"\n'),
        environ={},
        check_files=False,
    )
    assert config.node.domain == "brest.test"
    assert config.origin == "https://brest.test"
    assert config.database.url == (
        f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bocage.sqlite'}"
    )
    assert config.keys.rsa_private == str(tmp_path / "keys" / "rsa.pem")


def test_loopback_domains_get_http(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[node]\ndomain = "127.0.0.1:8001"\n'),
        environ={},
        check_files=False,
    )
    assert config.origin == "http://127.0.0.1:8001"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[node]\ndomain = "a.test"\n[http]\nport = 1\n')
    config = load_config(
        path,
        environ={
            "BOCAGE_HTTP_PORT": "8080",
            "BOCAGE_DATABASE_URL": "postgresql://postgres@127.0.0.1/test",
            "BOCAGE_FEDERATION_ALLOW_PRIVATE_HOSTS": "127.0.0.1, localhost",
            "BOCAGE_TEST_POSTGRES_URL": "ignored: another tool's variable",
        },
        check_files=False,
    )
    assert config.http.port == 8080
    assert config.database.url == "postgresql+asyncpg://postgres@127.0.0.1/test"
    assert config.federation.allow_private_hosts == ["127.0.0.1", "localhost"]


def test_environment_alone_is_enough(tmp_path: Path) -> None:
    config = load_config(
        None,
        environ={"BOCAGE_NODE_DOMAIN": "c.test", "BOCAGE_NODE_DATA_DIR": str(tmp_path)},
        check_files=False,
    )
    assert config.node.domain == "c.test"


@pytest.mark.parametrize(
    ("body", "env", "message"),
    [
        ("", {}, "node.domain: missing"),
        ('[node]\ndomain = "a b"', {}, "node.domain: 'a b' is not a host name"),
        ('[node]\ndomain = "a.test"\ncolour = 1', {}, "node.colour: unknown key"),
        ('[nod]\ndomain = "a.test"', {}, "nod: unknown key"),
        ('[node]\ndomain = "a.test"', {"BOCAGE_HTTP_PORT": "x"}, "http.port: expected"),
        ('[node]\ndomain = "a.test"\n[http]\nport = 70000', {}, "http.port: 70000"),
        (
            '[node]\ndomain = "a.test"\nbase_url = "ftp://a.test"',
            {},
            "node.base_url: 'ftp://a.test' is not an http(s) URL",
        ),
        (
            '[node]\ndomain = "a.test"\n[database]\nurl = "mysql://x/y"',
            {},
            "database.url: unsupported database 'mysql'",
        ),
        (
            '[node]\ndomain = "a.test"\n[database]\nurl = "not a url"',
            {},
            "database.url: 'not a url' is not a URL",
        ),
        ('[node]\ndomain = "a.test"', {"BOCAGE_LOG_LEVEL": "LOUD"}, "log.level:"),
        ("[node\n", {}, "is not valid TOML"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, body: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, body), environ=env, check_files=False)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_key_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[node]\ndomain = "a.test"\n')
    with pytest.raises(ConfigError, match=r"keys\.rsa_private: .* does not exist"):
        load_config(path, environ={})


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})


def test_rendered_starter_file_loads(tmp_path: Path) -> None:
    text = render_config(
        domain="brest.test",
        database_url="sqlite:///data/x.sqlite",
        port=8123,
        allow_private_hosts=["127.0.0.1"],
    )
    config = load_config(write(tmp_path, text), environ={}, check_files=False)
    assert config.http.port == 8123
    assert config.federation.allow_private_hosts == ["127.0.0.1"]
