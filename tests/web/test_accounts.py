"""Accounts: sign-up, sign-in, sessions, CSRF, membership requests from the web."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import select

from storage.tables import web_accounts, web_sessions
from tests.processes import BOCAGE, run_cli
from tests.web.conftest import Site


async def test_sign_up_opens_a_session_and_stores_only_hashes(site: Site) -> None:
    await site.sign_up("alice", "a long passphrase")
    me = await site.page("/me")
    assert "@alice@" in me and "Ask to become a member" in me

    async with site.node.db.read() as conn:
        account = (await conn.execute(select(web_accounts))).one()
        session = (await conn.execute(select(web_sessions))).one()
    assert account.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in account.password_hash
    cookie = {c.key: c.value for c in site.http.cookie_jar}["bocage_session"]
    assert cookie not in session.token_hash and len(session.token_hash) == 64


async def test_wrong_password_is_refused_and_right_one_signs_in(site: Site) -> None:
    await site.sign_up("bob", "right password!")
    await site.post("/signout", {"csrf": await site.csrf("/me")})
    assert "Sign in" in await site.page("/me")  # redirected to the sign-in form

    token = await site.csrf()
    response = await site.post(
        "/signin", {"csrf": token, "username": "bob", "password": "wrong password!"},
        status=401,
    )  # fmt: skip
    assert "wrong user name or password" in await response.text()
    response = await site.post(
        "/signin",
        {"csrf": token, "username": "bob", "password": "right password!",
         "next": "//evil.example/"},
    )  # fmt: skip
    assert response.headers["Location"] == "/"  # never off-site
    assert "@bob@" in await site.page("/me")


async def test_forms_without_the_token_or_from_another_site_are_refused(
    site: Site,
) -> None:
    await site.sign_up("carol")
    response = await site.post("/me/membership", {"csrf": "forged"}, status=403)
    assert "reload the page" in await response.text()
    headers = {"Origin": "https://evil.example", "Accept": "text/html"}
    async with site.http.post(
        site.origin + "/me/membership",
        data={"csrf": await site.csrf("/me")},
        headers=headers,
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    assert (
        await site.node.membership.get(site.node.federation.fed.actor_iri("carol"))
        is None
    )


async def test_a_person_asks_to_join_and_an_administrator_admits(site: Site) -> None:
    await site.sign_up("dora")
    await site.post("/me/membership", {"csrf": await site.csrf("/me")})
    actor = site.node.federation.fed.actor_iri("dora")
    assert (await site.node.membership.get(actor) or {})["state"] == "requested"
    assert "waiting for a decision" in await site.page("/me")

    await site.node.membership.admit(actor, college="citizens")
    page = await site.page("/me", language="fr")
    assert "Vous êtes membre" in page and "citizens" in page


async def test_sign_up_refuses_taken_and_reserved_names(site: Site) -> None:
    await site.sign_up("erin")
    await site.post("/signout", {"csrf": await site.csrf("/me")})
    for name in ("erin", "node", "catalogue"):
        token = await site.csrf("/signup")
        response = await site.post(
            "/signup",
            {"csrf": token, "username": name, "password": "long enough 123",
             "confirm": "long enough 123"},
            status=400,
        )  # fmt: skip
        assert "is taken" in await response.text()


async def test_account_actor_is_a_person_on_the_fediverse(site: Site) -> None:
    await site.sign_up("fanny")
    async with site.http.get(
        site.origin + "/actors/fanny", headers={"Accept": "application/activity+json"}
    ) as response:
        actor = await response.json(content_type=None)
    assert actor["type"] == "Person" and actor["preferredUsername"] == "fanny"


def test_account_commands_answer_in_one_line(tmp_path: Path) -> None:
    assert run_cli("init", "ville.test", "--dir", str(tmp_path)).returncode == 0
    config = str(tmp_path / "bocage.toml")

    def account(*args: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BOCAGE, "account", *args, "-c", config, "--password-stdin"],
            input=password + "\n", capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    opened = account("add", "gaspard", "--name", "Gaspard", password="long secret 123")
    assert opened.returncode == 0, opened.stderr
    assert "https://ville.test/actors/gaspard" in opened.stdout
    again = account("add", "gaspard", password="long secret 123")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        "bocage: error: the name 'gaspard' is taken"
    ]
    short = account("password", "gaspard", password="short")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    assert "Traceback" not in short.stderr
    changed = account("password", "gaspard", password="another long one")
    assert changed.returncode == 0 and "sessions are closed" in changed.stdout


async def test_sign_in_is_throttled_after_ten_failures(site: Site) -> None:
    await site.sign_up("henri", "the right password")
    await site.post("/signout", {"csrf": await site.csrf("/me")})
    token = await site.csrf()
    for _ in range(10):
        await site.post(
            "/signin", {"csrf": token, "username": "henri", "password": "guess"},
            status=401,
        )  # fmt: skip
    # Even the right password waits now (a quarter of an hour).
    response = await site.post(
        "/signin",
        {"csrf": token, "username": "henri", "password": "the right password"},
        status=401,
    )
    assert "too many failed attempts" in await response.text()
