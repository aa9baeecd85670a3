"""protocol.decisionlog for mirrors: prefix roots, content hashes, a mirror
compared with its origin."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import decisionlog as dl
from protocol.decisionlog import Failure, LogError
from protocol.keys import generate_ed25519

KEY = generate_ed25519()
STRANGER = generate_ed25519()
KEY_ID = "https://bocage.example/actors/node#ed25519-key"
ORIGIN = "https://bocage.example/log"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KEYS = {KEY_ID: KEY.public_key()}


def build(n: int, label: str = "a") -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    prev: dl.Entry | None = None
    for i in range(n):
        doc = dl.make_entry(
            prev,
            "moderation.decide",
            f"https://bocage.example/reports/{label}{i}",
            {"n": i},
            START + timedelta(minutes=i),
            KEY,
            KEY_ID,
        )
        entries.append(doc)
        prev = dl.parse_entry(doc)
    return entries


def checkpoint(
    entries: list[dict[str, Any]], size: int, key: Any = KEY
) -> dict[str, Any]:
    root = dl.tree_root([bytes.fromhex(e["hash"]) for e in entries[:size]])
    return dl.make_checkpoint(
        size, root, START + timedelta(minutes=size), key, KEY_ID, ORIGIN
    )


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=40), st.data())
def test_prefix_roots_are_tree_roots(leaves: list[bytes], data: st.DataObject) -> None:
    sizes = data.draw(st.lists(st.integers(0, len(leaves) + 3), max_size=8))
    roots = dl.prefix_roots(leaves, sizes)
    assert set(roots) == {n for n in sizes if n <= len(leaves)}
    for n, root in roots.items():
        assert root == dl.tree_root(leaves[:n])


def test_content_hash_ignores_the_claimed_hash() -> None:
    (entry,) = build(1)
    assert dl.content_hash(entry) == bytes.fromhex(entry["hash"])
    altered = {**entry, "subject": "https://attacker.example/x"}
    assert dl.content_hash(altered) != bytes.fromhex(entry["hash"])
    with pytest.raises(LogError):
        dl.content_hash({"index": 0})


class TestCompareMirror:
    def test_a_faithful_mirror(self) -> None:
        entries = build(9)
        held = [checkpoint(entries, n) for n in (1, 4, 7)]
        assert dl.compare_mirror(entries, held, KEYS.get, origin=ORIGIN) == ()

    def test_a_rewritten_entry_is_inconsistent_from_there_on(self) -> None:
        entries = build(9)
        held = [checkpoint(entries, n) for n in (2, 5, 9)]
        served = copy.deepcopy(entries)
        served[3]["body"] = {"n": "rewritten"}
        problems = dl.compare_mirror(served, held, KEYS.get, origin=ORIGIN)
        assert [(p.position, p.code) for p in problems] == [
            (1, Failure.INCONSISTENT),
            (2, Failure.INCONSISTENT),
        ]

    def test_a_forked_log_signed_by_the_same_key(self) -> None:
        held = [checkpoint(build(4), 4)]
        problems = dl.compare_mirror(build(6, "b"), held, KEYS.get, origin=ORIGIN)
        assert [p.code for p in problems] == [Failure.INCONSISTENT]

    def test_entries_hidden_from_the_origin(self) -> None:
        entries = build(6)
        held = [checkpoint(entries, 6)]
        problems = dl.compare_mirror(entries[:4], held, KEYS.get, origin=ORIGIN)
        assert [p.code for p in problems] == [Failure.BEYOND_ENTRIES]
        assert "hides entries" in problems[0].reason

    def test_an_unreadable_entry_leaves_later_checkpoints_unverifiable(self) -> None:
        entries = build(5)
        held = [checkpoint(entries, 2), checkpoint(entries, 5)]
        served = copy.deepcopy(entries)
        served[3] = {"index": 3}
        problems = dl.compare_mirror(served, held, KEYS.get, origin=ORIGIN)
        assert [(p.position, p.code) for p in problems] == [(1, Failure.UNVERIFIABLE)]

    def test_checkpoints_the_origin_did_not_sign(self) -> None:
        entries = build(3)
        forged = checkpoint(entries, 3, key=STRANGER)
        elsewhere = {**checkpoint(entries, 2)}
        elsewhere["origin"] = "https://other.example/log"
        problems = dl.compare_mirror(
            entries, [elsewhere, forged], KEYS.get, origin=ORIGIN
        )
        assert [p.code for p in problems] == [
            Failure.ORIGIN_MISMATCH,
            Failure.BAD_SIGNATURE,
        ]
