"""Fixtures shared by the whole suite: databases on both backends."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from node.config import Config, load_config, render_config
from node.identity import create_keys
from storage.database import Database
from storage.migrate import migrate

POSTGRES_ENV = "BOCAGE_TEST_POSTGRES_URL"
POSTGRES_SKIP = (
    f"{POSTGRES_ENV} is not set: PostgreSQL tests need a server "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test); .ci/run sets it"
)
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _plain_pg_url(url: str) -> str:
    """asyncpg wants postgresql://; our config accepts postgresql+asyncpg:// too."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
async def postgres_database() -> AsyncIterator[str | None]:
    """A throw-away PostgreSQL database for this test session (its plain URL).

    Each session gets its own database, so two suites running at once on one
    server (a developer and CI, say) never see each other's rows.  None when
    no server is configured; the tests that need one skip, saying why.
    """
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        yield None
        return
    admin_url = _plain_pg_url(url)
    name = f"bocage_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = admin_url.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def reset_postgres(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, postgres_database: str | None
) -> AsyncIterator[str]:
    """An empty database on each backend, as a SQLAlchemy URL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bocage.sqlite'}"
        return
    if postgres_database is None:
        pytest.skip(POSTGRES_SKIP)
    plain = postgres_database
    await reset_postgres(plain)
    yield plain.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend."""
    database = Database(database_url)
    await migrate(database)
    yield database
    await database.close()


@pytest.fixture
def shared_vectors() -> Iterator[Path]:
    vectors = SHARED / "vectors"
    if not vectors.is_dir():
        pytest.skip(f"published test vectors not found at {vectors}")
    yield vectors


def make_config(
    directory: Path,
    database_url: str,
    *,
    port: int = 8000,
    domain: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Config:
    """A node's configuration and key files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bocage.toml"
    path.write_text(
        render_config(
            domain=domain or f"127.0.0.1:{port}",
            database_url=database_url,
            port=port,
            allow_private_hosts=["127.0.0.1", "localhost"],
        ),
        encoding="utf-8",
    )
    config = load_config(path, environ=extra_env or {}, check_files=False)
    if not config.rsa_key_path.exists():
        create_keys(config)
    return config


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free ports (for the demo's nodes)."""
    for _ in range(50):
        base = free_port()
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def node_config(tmp_path: Path, database_url: str) -> Config:
    """A configured node (keys on disk) on each backend, on a free port."""
    return make_config(tmp_path / "node", database_url, port=free_port())
