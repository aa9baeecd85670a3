"""Configuration: one TOML file, overridden by ``BOCAGE_*`` environment variables.

The file has one table per concern (``[node]``, ``[http]``, ``[database]``,
``[keys]``, ``[federation]``, ``[worker]``, ``[log]``).  Any key can be overridden
from the environment as ``BOCAGE_<TABLE>_<KEY>``, for example
``BOCAGE_DATABASE_URL`` or ``BOCAGE_HTTP_PORT``; list values are comma-separated.

Everything is validated when the process starts.  A bad value raises
:class:`ConfigError`, whose message is one line naming the key and what is
expected, so the CLI can print it and exit without a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from protocol.errors import BocageError

ENV_PREFIX = "BOCAGE_"
CONFIG_ENV = "BOCAGE_CONFIG"

# A DNS name or an IP literal, optionally with a port: nodes on loopback are
# addressed as ``127.0.0.1:8001`` in the demo and the tests.
_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(?::[0-9]{1,5})?$"
)
_SQLITE = "sqlite+aiosqlite"
_POSTGRES = "postgresql+asyncpg"


class ConfigError(BocageError):
    """A setting is missing or malformed; ``key`` names it as ``table.key``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class NodeSection(_Section):
    domain: str = ""
    base_url: str = ""
    name: str = ""
    summary: str = ""
    actor_type: Literal["Organization", "Group"] = "Organization"
    username: str = "node"
    data_dir: str = "data"
    language: str = "fr"  # of the node's publications and its pages by default


class HttpSection(_Section):
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576
    shutdown_timeout: float = 10.0


class DatabaseSection(_Section):
    url: str = ""


class KeysSection(_Section):
    rsa_private: str = "keys/rsa.pem"
    ed25519_private: str = "keys/ed25519.pem"


class FederationSection(_Section):
    allow_private_hosts: list[str] = msgspec.field(default_factory=list)
    deliver_in_process: bool = True
    blocked_domains: list[str] = msgspec.field(default_factory=list)
    # "name=address" pairs resolved without DNS (test domains, staging).
    resolve_overrides: list[str] = msgspec.field(default_factory=list)
    fetch_timeout: float = 10.0

    def overrides(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.resolve_overrides)


class WorkerSection(_Section):
    concurrency: int = 16
    lease_seconds: float = 60.0
    batch_size: int = 64
    poll_interval: float = 0.5


class WebSection(_Section):
    registrations: bool = True  # anyone may open an account (to ask to join)
    session_days: float = 14.0


class LogSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Config(_Section):
    """The whole, validated configuration of one node."""

    node: NodeSection = msgspec.field(default_factory=NodeSection)
    http: HttpSection = msgspec.field(default_factory=HttpSection)
    database: DatabaseSection = msgspec.field(default_factory=DatabaseSection)
    keys: KeysSection = msgspec.field(default_factory=KeysSection)
    federation: FederationSection = msgspec.field(default_factory=FederationSection)
    worker: WorkerSection = msgspec.field(default_factory=WorkerSection)
    web: WebSection = msgspec.field(default_factory=WebSection)
    log: LogSection = msgspec.field(default_factory=LogSection)

    @property
    def origin(self) -> str:
        """The node's public origin, ``scheme://host[:port]``, without a slash."""
        return self.node.base_url

    @property
    def rsa_key_path(self) -> Path:
        return Path(self.keys.rsa_private)

    @property
    def ed25519_key_path(self) -> Path:
        return Path(self.keys.ed25519_private)


_SECTIONS: dict[str, type[_Section]] = {
    name: info.type
    for name, info in ((f.name, f) for f in msgspec.structs.fields(Config))
    if isinstance(info.type, type)
}


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    check_files: bool = True,
) -> Config:
    """Read, merge and validate the configuration.

    ``path`` defaults to ``$BOCAGE_CONFIG``; with neither, only the environment
    is read.  ``check_files=False`` skips the key-file checks, for ``bocage init``
    which is about to create them.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    chosen = path if path is not None else env.get(CONFIG_ENV)
    if chosen:
        file = Path(chosen)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("", f"config file {file} does not exist") from None
        except OSError as exc:
            raise ConfigError("", f"cannot read {file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("", f"{file} is not valid TOML: {exc}") from None
        base_dir = file.resolve().parent

    _merge_environment(raw, env)
    try:
        config = msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise _from_validation_error(exc) from None
    return _validate(config, base_dir, check_files=check_files)


def _merge_environment(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Fold ``BOCAGE_<TABLE>_<KEY>`` variables into the parsed file."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        table, _, key = rest.partition("_")
        section = _SECTIONS.get(table)
        if section is None or not key:
            # Other tools' variables (BOCAGE_TEST_POSTGRES_URL…) share the prefix.
            continue
        field = next(
            (f for f in msgspec.structs.fields(section) if f.name == key), None
        )
        if field is None:
            raise ConfigError(f"{table}.{key}", f"unknown key (from ${name})")
        parsed: Any = value
        if getattr(field.type, "__origin__", None) is list:
            parsed = [item.strip() for item in value.split(",") if item.strip()]
        raw.setdefault(table, {})[key] = parsed


_MSGSPEC_ERROR = re.compile(r"^(?P<msg>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")


def _from_validation_error(exc: msgspec.ValidationError) -> ConfigError:
    """Turn msgspec's message into ``table.key: what was expected``."""
    match = _MSGSPEC_ERROR.match(str(exc))
    message, path = (match["msg"], match["path"] or "") if match else (str(exc), "")
    unknown = _UNKNOWN_FIELD.match(message)
    if unknown:
        key = f"{path}.{unknown['name']}" if path else unknown["name"]
        return ConfigError(key, "unknown key")
    return ConfigError(path, message[0].lower() + message[1:])


def _validate(config: Config, base_dir: Path, *, check_files: bool) -> Config:
    node, http, db = config.node, config.http, config.database

    domain = node.domain.strip().lower()
    if not domain:
        raise ConfigError("node.domain", "missing; expected the node's host name")
    if not _HOST_RE.match(domain):
        raise ConfigError(
            "node.domain", f"{node.domain!r} is not a host name (expected host[:port])"
        )
    node.domain = domain

    if node.base_url:
        parts = urlsplit(node.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "node.base_url", f"{node.base_url!r} is not an http(s) URL"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError("node.base_url", "expected an origin with no path")
        node.base_url = f"{parts.scheme}://{parts.netloc.lower()}"
    else:
        # Loopback nodes have no certificate; every real deployment is https.
        scheme = "http" if _is_loopback(domain) else "https"
        node.base_url = f"{scheme}://{domain}"

    if not node.name:
        node.name = domain
    if not re.fullmatch(r"[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*", node.username):
        raise ConfigError(
            "node.username", "expected lower-case ASCII letters, digits, _ . -"
        )
    node.data_dir = str(_resolve(base_dir, node.data_dir))
    if not re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", node.language):
        raise ConfigError(
            "node.language", f"{node.language!r} is not a language tag (e.g. fr, en)"
        )
    if config.web.session_days <= 0:
        raise ConfigError("web.session_days", "expected a number of days > 0")

    if not 0 < http.port < 65536:
        raise ConfigError("http.port", f"{http.port} is not a port (1-65535)")
    if http.max_body_bytes < 1024:
        raise ConfigError("http.max_body_bytes", "expected at least 1024")
    if http.shutdown_timeout < 0:
        raise ConfigError("http.shutdown_timeout", "expected seconds >= 0")

    if not db.url:
        db.url = f"{_SQLITE}:///{Path(node.data_dir) / 'bocage.sqlite'}"
    db.url = _normalise_database_url(db.url, base_dir)

    if config.worker.concurrency < 1:
        raise ConfigError("worker.concurrency", "expected at least 1")
    if config.worker.lease_seconds < 1:
        raise ConfigError("worker.lease_seconds", "expected at least 1 second")
    if config.worker.batch_size < 1:
        raise ConfigError("worker.batch_size", "expected at least 1")

    for index, host in enumerate(config.federation.allow_private_hosts):
        if not _HOST_RE.match(host.lower()) and not _is_ip(host):
            raise ConfigError(
                f"federation.allow_private_hosts[{index}]",
                f"{host!r} is not a host name or address",
            )

    for index, item in enumerate(config.federation.resolve_overrides):
        name, sep, address = item.partition("=")
        if not sep or not _HOST_RE.match(name.lower()) or not _is_ip(address):
            raise ConfigError(
                f"federation.resolve_overrides[{index}]",
                f"{item!r} is not name=address (e.g. brest.test=127.0.0.1)",
            )
    config.federation.blocked_domains = [
        d.lower() for d in config.federation.blocked_domains
    ]
    config.federation.allow_private_hosts = [
        h.lower() for h in config.federation.allow_private_hosts
    ]

    config.keys.rsa_private = str(_resolve(base_dir, config.keys.rsa_private))
    config.keys.ed25519_private = str(_resolve(base_dir, config.keys.ed25519_private))
    if check_files:
        for key, file in (
            ("keys.rsa_private", config.keys.rsa_private),
            ("keys.ed25519_private", config.keys.ed25519_private),
        ):
            _check_readable(key, Path(file))
    return config


def _normalise_database_url(url: str, base_dir: Path) -> str:
    """Accept the plain dialect names and pick the async drivers we ship."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            "database.url",
            f"{url!r} is not a URL (expected sqlite:///PATH or postgresql://…)",
        )
    if scheme in ("sqlite", _SQLITE):
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            raise ConfigError(
                "database.url", "expected a file path; an in-memory database loses data"
            )
        return f"{_SQLITE}:///{_resolve(base_dir, path)}"
    if scheme in ("postgresql", "postgres", _POSTGRES):
        parts = urlsplit(f"postgresql://{rest}")
        if not parts.hostname and "host=" not in parts.query:
            raise ConfigError("database.url", "a PostgreSQL URL needs a host")
        return f"{_POSTGRES}://{rest}"
    raise ConfigError(
        "database.url",
        f"unsupported database {scheme!r} (expected sqlite or postgresql)",
    )


def _resolve(base_dir: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _check_readable(key: str, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise ConfigError(key, f"{path} does not exist (run `bocage init`)") from None
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(domain: str) -> bool:
    host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def render_config(
    *,
    domain: str,
    database_url: str,
    port: int,
    name: str = "",
    base_url: str = "",
    allow_private_hosts: list[str] | None = None,
    actor_type: str = "Organization",
    username: str = "node",
) -> str:
    """Write a commented starter ``bocage.toml`` (used by ``bocage init``)."""
    allow = ", ".join(f'"{h}"' for h in (allow_private_hosts or []))
    return f"""\
# Bocage node configuration. Every key can be overridden by an environment
# variable BOCAGE_<TABLE>_<KEY>, e.g. BOCAGE_HTTP_PORT=8080.

[node]
domain = "{domain}"
{f'base_url = "{base_url}"' if base_url else '# base_url = "https://example.org"'}
name = "{name or domain}"
actor_type = "{actor_type}"   # Organization or Group
username = "{username}"
data_dir = "data"
language = "fr"   # of publications, and of pages when the browser does not say

[http]
host = "127.0.0.1"
port = {port}
max_body_bytes = 1048576
shutdown_timeout = 10.0

[database]
url = "{database_url}"

[keys]
rsa_private = "keys/rsa.pem"
ed25519_private = "keys/ed25519.pem"

[federation]
# Hosts on private or loopback addresses this node may fetch from and deliver to.
allow_private_hosts = [{allow}]
deliver_in_process = true
blocked_domains = []

[worker]
concurrency = 16
lease_seconds = 60
batch_size = 64
poll_interval = 0.5

[web]
registrations = true   # anyone may open an account on the pages to ask to join
session_days = 14.0

[log]
level = "INFO"
format = "text"   # text or json
"""
