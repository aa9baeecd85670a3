"""The pages in a real browser: they render, search works, a member votes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Running

pytestmark = pytest.mark.asyncio(loop_scope="session")

WIDTHS = {"desktop": (1280, 900), "phone": (375, 740)}


async def _open(
    browser: Any, *, language: str = "en-GB", width: str = "desktop"
) -> Any:
    w, h = WIDTHS[width]
    context = await browser.new_context(
        locale=language, viewport={"width": w, "height": h}
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    page.problems = problems
    return page


async def _no_horizontal_scroll(page: Any) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


@pytest.mark.parametrize("width", ["desktop", "phone"])
async def test_every_main_page_renders_with_its_stylesheet(
    browser: Any, running: Running, shots: Path, width: str
) -> None:
    page = await _open(browser, width=width)
    for path, heading in [
        ("/", running.config.node.name),
        ("/catalogue", "Catalogue"),
        ("/datasets/arceaux-velo", "arceaux"),
        ("/services", "Service offers"),
        ("/proposals", "Proposals"),
        ("/charter", "Charter"),
        ("/members", "Members"),
        ("/log", "Decision log"),
    ]:
        response = await page.goto(running.origin + path)
        assert response is not None and response.status == 200, path
        h1 = await page.locator("h1").first.inner_text()
        assert heading.lower() in h1.lower(), (path, h1)
        # The stylesheet loaded (CSP allows only our own): the header is tinted.
        background = await page.locator("header.site").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert background not in ("rgba(0, 0, 0, 0)", "transparent"), path
        await _no_horizontal_scroll(page)
        name = path.strip("/").replace("/", "-") or "home"
        await page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)
    assert page.problems == []
    await page.context.close()


async def test_pages_speak_french_to_a_french_browser(
    browser: Any, running: Running
) -> None:
    page = await _open(browser, language="fr-FR")
    await page.goto(running.origin + "/log")
    assert await page.locator("html").get_attribute("lang") == "fr"
    assert "Journal des décisions" in await page.locator("h1").inner_text()
    await page.context.close()


async def test_search_from_the_catalogue_page(
    browser: Any, running: Running, shots: Path
) -> None:
    page = await _open(browser)
    await page.goto(running.origin + "/catalogue")
    await page.get_by_label("Search").fill("vélo")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**q=*")
    results = page.locator("main a[href^='/datasets/']")
    assert await results.count() >= 1
    await page.screenshot(path=shots / "search.png", full_page=True)
    await results.first.click()
    assert "/datasets/" in page.url
    await page.context.close()


async def test_keyboard_reaches_the_content_first(
    browser: Any, running: Running
) -> None:
    page = await _open(browser)
    await page.goto(running.origin + "/")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    await page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    await page.context.close()


async def test_a_citizen_signs_up_asks_to_join_and_a_member_votes(
    browser: Any, running: Running, shots: Path
) -> None:
    node = running.node
    page = await _open(browser)
    await page.goto(running.origin + "/signup")
    await page.get_by_label("User name").fill("camille")
    await page.get_by_label("Display name").fill("Camille")
    await page.get_by_label("Password", exact=True).fill("a good long secret")
    await page.get_by_label("Password again").fill("a good long secret")
    await page.get_by_role("button", name="Open my account").click()
    await page.wait_for_url("**/me")
    await page.get_by_role("button", name="Ask to become a member").click()
    await page.get_by_text("Your request was sent").wait_for()

    actor = node.federation.fed.actor_iri("camille")
    assert (await node.membership.get(actor) or {})["state"] == "requested"
    await node.membership.admit(actor, college="citizens")
    seq = await node.proposals.open(
        "Where should the new bicycle racks go?",
        "Grade each place.",
        rule="judgment",
        options=["Station", "Market", "School"],
        quorum=Fraction(0),
    )

    await page.goto(f"{running.origin}/proposals/{seq}")
    assert "Follow" in await page.locator("main").inner_text()
    for place, grade in (("Station", "Very good"), ("Market", "Good")):
        group = page.get_by_role("group", name=place)
        await group.get_by_label(grade, exact=True).check()
    await page.screenshot(path=shots / "ballot.png", full_page=True)
    await page.get_by_role("button", name="Cast my ballot").click()
    await page.get_by_text("Your ballot was counted").wait_for()
    await page.screenshot(path=shots / "voted.png", full_page=True)

    assert await page.get_by_text("a ballot cannot be changed").count() == 1
    assert await page.get_by_role("button", name="Cast my ballot").count() == 0
    row = page.get_by_role("row", name="Station")
    assert "very good" in await row.inner_text()  # the live majority grade

    live = await node.proposals.live(seq)
    assert live["voters"] == 1
    assert live["majority_grades"]["School"] == "reject"  # not graded: lowest
    assert page.problems == []
    await page.context.close()
