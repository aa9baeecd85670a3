"""Tests for protocol.decisionlog: signed entries, RFC 9162 trees, checkpoints."""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocol import decisionlog as dl
from protocol.decisionlog import Failure, LogError
from protocol.keys import generate_ed25519, multibase_decode, multibase_encode

KEY = generate_ed25519()
OTHER_KEY = generate_ed25519()
KEY_ID = "https://bocage.example/actor#ed25519-key"
OTHER_KEY_ID = "https://bocage.example/actor#old-key"
ORIGIN = "https://bocage.example/governance/log"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KINDS = [
    "membership.admit",
    "charter.adopt",
    "proposal.close",
    "moderation.decide",
    "federation.block",
]
CHECKPOINT_SIZES = [1, 7, 8, 20, 50]
KEYS = {KEY_ID: KEY.public_key(), OTHER_KEY_ID: OTHER_KEY.public_key()}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def build_entries(
    n: int, *, key: Any = KEY, body_of: Any = None, start: int = 0
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    prev: dl.Entry | None = None
    for i in range(n):
        body = {"n": i, "note": f"décision {i}"}
        if body_of is not None:
            body = body_of(i)
        doc = dl.make_entry(
            prev,
            KINDS[i % len(KINDS)],
            f"https://bocage.example/members/{start + i}",
            body,
            START + timedelta(minutes=i),
            key,
            KEY_ID,
        )
        entries.append(doc)
        prev = dl.parse_entry(doc)
    return entries


def hashes_of(entries: list[dict[str, Any]]) -> list[bytes]:
    return [bytes.fromhex(e["hash"]) for e in entries]


def checkpoint_for(
    entries: list[dict[str, Any]], size: int, *, minutes: int | None = None
) -> dict[str, Any]:
    at = START + timedelta(minutes=size if minutes is None else minutes)
    root = dl.tree_root(hashes_of(entries)[:size])
    return dl.make_checkpoint(size, root, at, KEY, KEY_ID, ORIGIN)


@functools.cache
def _sound_log() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entries = build_entries(50)
    return entries, [checkpoint_for(entries, s) for s in CHECKPOINT_SIZES]


def sound_log() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A fresh copy of a 50-entry log and its checkpoints, safe to tamper with."""
    return copy.deepcopy(_sound_log())


def verify(entries: Any, checkpoints: Any) -> dl.LogReport:
    return dl.verify_log(entries, checkpoints, KEYS.get)


def codes(report: dl.LogReport) -> set[tuple[str, int, Failure]]:
    return {(p.item, p.position, p.code) for p in report.problems}


# --- the sound log ---------------------------------------------------------


class TestSoundLog:
    def test_verifies(self) -> None:
        report = verify(*sound_log())
        assert report.ok, report.problems
        assert report.entries == 50
        assert report.checkpoints == len(CHECKPOINT_SIZES)
        assert report.verified_size == 50
        assert report.latest is not None and report.latest.size == 50
        report.raise_for_problems()

    def test_empty_log_and_empty_checkpoint(self) -> None:
        cp = dl.make_checkpoint(0, dl.EMPTY_ROOT, START, KEY, KEY_ID, ORIGIN)
        report = verify([], [cp])
        assert report.ok
        assert report.latest is not None and report.latest.size == 0

    def test_entry_document_format_is_pinned(self) -> None:
        entries, _ = sound_log()
        first, second = entries[0], entries[1]
        assert set(first) == {
            "index",
            "kind",
            "subject",
            "body",
            "at",
            "prev",
            "keyId",
            "hash",
            "signature",
        }
        assert first["prev"] == "0" * 64
        assert first["at"] == "2026-01-05T09:00:00Z"
        assert second["prev"] == first["hash"]

        # Recompute what is hashed and signed without the module's helpers.
        unsigned = {k: v for k, v in second.items() if k not in ("hash", "signature")}
        message = b"bocage-log-entry/1\n" + rfc8785.dumps(unsigned)
        assert sha(message).hex() == second["hash"]
        KEY.public_key().verify(multibase_decode(second["signature"]), message)

    def test_checkpoint_format_is_pinned(self) -> None:
        _, checkpoints = sound_log()
        cp = checkpoints[-1]
        assert set(cp) == {"origin", "size", "root", "at", "keyId", "signature"}
        assert cp["size"] == 50 and len(cp["root"]) == 64
        unsigned = {k: v for k, v in cp.items() if k != "signature"}
        message = b"bocage-log-checkpoint/1\n" + rfc8785.dumps(unsigned)
        KEY.public_key().verify(multibase_decode(cp["signature"]), message)

    def test_entry_round_trip(self) -> None:
        entries, _ = sound_log()
        prev = None
        for doc in entries:
            entry = dl.verify_entry(doc, KEY.public_key())
            dl.check_link(prev, entry)
            assert entry.to_document() == doc
            prev = entry
        assert prev is not None and prev.index == 49
        assert prev.time == START + timedelta(minutes=49)

    def test_checkpoint_round_trip(self) -> None:
        entries, checkpoints = sound_log()
        cp = dl.verify_checkpoint(checkpoints[2], KEY.public_key())
        assert cp.size == 8 and cp.origin == ORIGIN and cp.key_id == KEY_ID
        assert cp.root == dl.tree_root(hashes_of(entries)[:8])
        assert cp.time == START + timedelta(minutes=8)

    def test_fractional_and_string_times(self) -> None:
        at = datetime(2026, 1, 5, 10, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1)))
        doc = dl.make_entry(None, "charter.adopt", ORIGIN, {}, at, KEY, KEY_ID)
        assert doc["at"] == "2026-01-05T09:00:00.250000Z"
        doc = dl.make_entry(
            None, "charter.adopt", ORIGIN, {}, "2026-01-05T09:00:00.5Z", KEY, KEY_ID
        )
        assert dl.parse_entry(doc).time.microsecond == 500000


class TestMakeEntryRefuses:
    def test_bad_arguments(self) -> None:
        prev = dl.parse_entry(sound_log()[0][10])
        good: dict[str, Any] = {
            "prev": prev,
            "kind": "proposal.close",
            "subject": "https://bocage.example/proposals/1",
            "body": {"result": "adopted"},
            "at": START + timedelta(hours=1),
            "key": KEY,
            "key_id": KEY_ID,
        }
        bad = [
            ("kind", "Proposal.Close"),
            ("kind", "proposal"),
            ("kind", ""),
            ("subject", "not an iri"),
            ("subject", "https://bocage.example/a b"),
            ("body", ["not", "an", "object"]),
            ("body", {"x": float("nan")}),
            ("body", {"x": 2**60}),
            ("at", datetime(2026, 1, 5, 9, 0)),  # naive
            ("at", "2026-01-05 09:00:00"),
            ("at", "2026-02-30T09:00:00Z"),
            ("at", START),  # before entry 10
            ("key_id", ""),
        ]
        dl.make_entry(**good)
        for name, value in bad:
            with pytest.raises(LogError):
                dl.make_entry(**{**good, name: value})

    def test_time_may_not_go_back(self) -> None:
        prev = dl.parse_entry(sound_log()[0][10])
        with pytest.raises(LogError) as info:
            dl.make_entry(prev, "charter.adopt", ORIGIN, {}, START, KEY, KEY_ID)
        assert info.value.code is Failure.TIME_REGRESSION

    def test_body_is_copied_as_plain_json(self) -> None:
        body: dict[str, Any] = {"votes": (3, 1), "nested": {"a": 1}}
        doc = dl.make_entry(None, "proposal.close", ORIGIN, body, START, KEY, KEY_ID)
        body["nested"]["a"] = 2
        assert doc["body"] == {"votes": [3, 1], "nested": {"a": 1}}
        dl.verify_entry(doc, KEY.public_key())


# --- the Merkle tree -------------------------------------------------------


def reference_root(inputs: list[bytes]) -> bytes:
    """MTH as RFC 9162 section 2.1.1 writes it, recursion and all."""
    if not inputs:
        return sha(b"")
    if len(inputs) == 1:
        return sha(b"\x00" + inputs[0])
    k = 1
    while k * 2 < len(inputs):
        k *= 2
    return sha(b"\x01" + reference_root(inputs[:k]) + reference_root(inputs[k:]))


class TestKnownAnswers:
    def test_hand_derived_tree_of_five(self) -> None:
        # Inputs d0..d4 are 32-byte stand-ins for entry hashes.
        d = [bytes([i]) * 32 for i in range(5)]
        # Leaves: l_i = SHA-256(0x00 || d_i).
        leaf = [sha(b"\x00" + x) for x in d]
        # Size 5: k = 4, so MTH = H(0x01 || MTH(d0..d3) || MTH(d4)).
        # MTH(d0..d3) splits at k = 2 into n01 and n23; MTH(d4) is l4.
        n01 = sha(b"\x01" + leaf[0] + leaf[1])
        n23 = sha(b"\x01" + leaf[2] + leaf[3])
        n0123 = sha(b"\x01" + n01 + n23)
        root5 = sha(b"\x01" + n0123 + leaf[4])
        assert dl.tree_root(d) == root5
        # Size 3: k = 2, MTH = H(0x01 || n01 || l2) -- the odd leaf is not
        # paired with a copy of itself (unlike Bitcoin's tree).
        assert dl.tree_root(d[:3]) == sha(b"\x01" + n01 + leaf[2])
        assert dl.tree_root(d[:1]) == leaf[0]
        assert dl.tree_root([]) == sha(b"") == dl.EMPTY_ROOT

        # PATH(2, D[5]): right sibling l3, then n01 on the left, then l4.
        assert dl.inclusion_proof(d, 2, 5) == [leaf[3], n01, leaf[4]]
        assert dl.verify_inclusion(leaf[2], 2, 5, [leaf[3], n01, leaf[4]], root5)
        # PATH(4, D[5]): the last leaf only needs the left subtree's root.
        assert dl.inclusion_proof(d, 4, 5) == [n0123]

        # PROOF(3, D[5]) = SUBPROOF(3, D[0:4], true) : l4
        #   SUBPROOF(3, D[0:4]) = SUBPROOF(1, D[2:4], false) : n01
        #   SUBPROOF(1, D[2:4], false) = SUBPROOF(1, D[2:3], false) : l3 = [l2, l3]
        proof = dl.consistency_proof(d, 3, 5)
        assert proof == [leaf[2], leaf[3], n01, leaf[4]]
        root3 = dl.tree_root(d[:3])
        assert dl.verify_consistency(3, 5, root3, root5, proof)
        # PROOF(4, D[5]): the old tree is a complete subtree, so only l4.
        assert dl.consistency_proof(d, 4, 5) == [leaf[4]]
        assert dl.verify_consistency(4, 5, n0123, root5, [leaf[4]])

    def test_certificate_transparency_roots(self) -> None:
        # The reference inputs and tree heads used across RFC 6962/9162
        # implementations (the tree shape and hashing did not change in 9162).
        inputs = [
            bytes.fromhex(h)
            for h in [
                "",
                "00",
                "10",
                "2021",
                "3031",
                "40414243",
                "5051525354555657",
                "606162636465666768696a6b6c6d6e6f",
            ]
        ]
        roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ]
        for size, expected in enumerate(roots, start=1):
            assert dl.tree_root(inputs[:size]).hex() == expected

    @given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
    def test_root_matches_the_rfc_recursion(self, inputs: list[bytes]) -> None:
        assert dl.tree_root(inputs) == reference_root(inputs)


LEAVES = hashes_of(_sound_log()[0])


class TestInclusion:
    @pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 50])
    def test_every_index(self, size: int) -> None:
        root = dl.tree_root(LEAVES[:size])
        for index in range(size):
            leaf = dl.leaf_hash(LEAVES[index])
            proof = dl.inclusion_proof(LEAVES, index, size)
            assert dl.verify_inclusion(leaf, index, size, proof, root)
            # Proof length is the depth of the leaf: at most ceil(log2(size)).
            assert len(proof) <= (size - 1).bit_length()
            # The same proof fails for another leaf, index or root.  (Not
            # necessarily for another size: PATH(0, D[3]) also proves leaf 0
            # in a tree of 4 against the size-3 root; the signed checkpoint
            # binds root and size, RFC 9162 section 2.1.3.2 does not.)
            other = dl.leaf_hash(LEAVES[(index + 1) % 50])
            assert not dl.verify_inclusion(other, index, size, proof, root)
            assert not dl.verify_inclusion(leaf, index, size, proof, sha(root))
            if size < 50:
                bigger = dl.tree_root(LEAVES[: size + 1])
                assert not dl.verify_inclusion(leaf, index, size + 1, proof, bigger)
            if size > 1:
                wrong = (index + 1) % size
                assert not dl.verify_inclusion(leaf, wrong, size, proof, root)
                assert not dl.verify_inclusion(leaf, index, size, proof[:-1], root)
                assert not dl.verify_inclusion(
                    leaf, index, size, [*proof, proof[0]], root
                )
            # An entry hash is not a leaf hash (domain separation).
            assert not dl.verify_inclusion(LEAVES[index], index, size, proof, root)

    def test_proof_may_not_outgrow_the_tree(self) -> None:
        # RFC 9162 section 2.1.3.2 steps 4a and 5: the path must end exactly at
        # the root of a tree of the claimed size; an attacker who picks the
        # root cannot hang extra levels on top or stop short.
        extra = sha(b"extra")
        for size in range(1, 13):
            root = dl.tree_root(LEAVES[:size])
            for index in range(size):
                leaf = dl.leaf_hash(LEAVES[index])
                proof = [*dl.inclusion_proof(LEAVES, index, size), extra]
                for forged in (dl.node_hash(extra, root), dl.node_hash(root, extra)):
                    assert not dl.verify_inclusion(leaf, index, size, proof, forged)
        leaf = dl.leaf_hash(LEAVES[0])
        assert not dl.verify_inclusion(leaf, 0, 1, [extra], dl.node_hash(extra, leaf))
        assert not dl.verify_inclusion(leaf, 0, 2, [], leaf)
        assert not dl.verify_inclusion(leaf, 0, 1, [], sha(leaf))

    def test_bad_requests(self) -> None:
        for index, size in [(3, 3), (-1, 3), (0, 51), (0, -1)]:
            with pytest.raises(LogError) as info:
                dl.inclusion_proof(LEAVES, index, size)
            assert info.value.code is Failure.BAD_ARGUMENT


class TestConsistency:
    def test_all_pairs_up_to_twenty(self) -> None:
        roots = [dl.tree_root(LEAVES[:n]) for n in range(21)]
        for n in range(1, 21):
            for m in range(1, n + 1):
                proof = dl.consistency_proof(LEAVES, m, n)
                assert dl.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
                if m == n:
                    assert proof == []
                    continue
                assert not dl.verify_consistency(m, n, sha(roots[m]), roots[n], proof)
                assert not dl.verify_consistency(m, n, roots[m], sha(roots[n]), proof)
                assert not dl.verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not dl.verify_consistency(m, n, roots[m], roots[n], [])
                if m + 1 < n:
                    assert not dl.verify_consistency(
                        m + 1, n, roots[m + 1], roots[n], proof
                    )
                for i in range(len(proof)):
                    bent = [*proof[:i], sha(proof[i]), *proof[i + 1 :]]
                    assert not dl.verify_consistency(m, n, roots[m], roots[n], bent)

    def test_proof_for_a_smaller_tree_does_not_pass_as_a_larger_one(self) -> None:
        # Step 7's "sn is 0": PROOF(1, D[2]) is one hash, which step 6 folds
        # into the size-2 root; claiming size 3 for that root must fail.
        roots = [dl.tree_root(LEAVES[:n]) for n in range(4)]
        proof = dl.consistency_proof(LEAVES, 1, 2)
        assert dl.verify_consistency(1, 2, roots[1], roots[2], proof)
        assert not dl.verify_consistency(1, 3, roots[1], roots[2], proof)

    def test_edges(self) -> None:
        root = dl.tree_root(LEAVES[:5])
        assert dl.consistency_proof(LEAVES, 0, 5) == []
        assert dl.verify_consistency(0, 5, dl.EMPTY_ROOT, root, [])
        assert not dl.verify_consistency(0, 5, root, root, [])
        assert not dl.verify_consistency(5, 5, root, sha(root), [])
        assert not dl.verify_consistency(5, 5, root, root, [root])
        assert not dl.verify_consistency(5, 3, root, root, [root])
        with pytest.raises(LogError):
            dl.consistency_proof(LEAVES, 5, 3)
        with pytest.raises(LogError):
            dl.consistency_proof(LEAVES, 3, 51)

    @given(st.data())
    @settings(max_examples=60, deadline=None)
    def test_random_sizes(self, data: st.DataObject) -> None:
        n = data.draw(st.integers(1, 140))
        m = data.draw(st.integers(1, n))
        inputs = [sha(i.to_bytes(4, "big")) for i in range(n)]
        proof = dl.consistency_proof(inputs, m, n)
        old, new = reference_root(inputs[:m]), reference_root(inputs)
        assert dl.verify_consistency(m, n, old, new, proof)
        index = data.draw(st.integers(0, n - 1))
        path = dl.inclusion_proof(inputs, index, n)
        assert dl.verify_inclusion(dl.leaf_hash(inputs[index]), index, n, path, new)


# --- tampering -------------------------------------------------------------


class TestTampering:
    def test_one_byte_of_a_body(self) -> None:
        entries, checkpoints = sound_log()
        entries[12]["body"]["note"] = "décision 13"
        report = verify(entries, checkpoints)
        # Reported once, where it happened: entry 13 still names the hash
        # entry 12 claims, so it is not blamed.
        assert [p for p in report.problems if p.item == "entry"] == [
            dl.Problem(
                "entry",
                12,
                Failure.HASH_MISMATCH,
                "hash does not match the entry's content",
            )
        ]
        # Checkpoints over entry 12 no longer match; earlier ones still do.
        assert ("checkpoint", 3, Failure.ROOT_MISMATCH) in codes(report)
        assert ("checkpoint", 4, Failure.ROOT_MISMATCH) in codes(report)
        assert all(p.position >= 3 for p in report.problems if p.item == "checkpoint")
        assert report.verified_size == 12
        assert report.latest is not None and report.latest.size == 8

    def test_reorder_two_entries(self) -> None:
        entries, checkpoints = sound_log()
        entries[20], entries[21] = entries[21], entries[20]
        found = codes(verify(entries, checkpoints))
        assert ("entry", 20, Failure.INDEX_MISMATCH) in found
        assert ("entry", 21, Failure.INDEX_MISMATCH) in found
        assert ("entry", 20, Failure.PREV_MISMATCH) in found
        assert ("checkpoint", 4, Failure.ROOT_MISMATCH) in found

    def test_drop_an_entry(self) -> None:
        entries, checkpoints = sound_log()
        del entries[30]
        report = verify(entries, checkpoints)
        assert ("entry", 30, Failure.INDEX_MISMATCH) in codes(report)
        assert ("entry", 30, Failure.PREV_MISMATCH) in codes(report)
        assert ("checkpoint", 4, Failure.BEYOND_ENTRIES) in codes(report)
        assert report.verified_size == 30

    def test_drop_the_last_entry_under_a_checkpoint(self) -> None:
        entries, checkpoints = sound_log()
        entries.pop()
        assert ("checkpoint", 4, Failure.BEYOND_ENTRIES) in codes(
            verify(entries, checkpoints)
        )

    def test_replace_a_signature(self) -> None:
        entries, checkpoints = sound_log()
        entries[5]["signature"] = entries[6]["signature"]
        report = verify(entries, checkpoints)
        assert codes(report) == {("entry", 5, Failure.BAD_SIGNATURE)}

    def test_entry_signed_by_another_key(self) -> None:
        entries, checkpoints = sound_log()
        unsigned = {
            k: v for k, v in entries[5].items() if k not in ("hash", "signature")
        }
        entries[5]["signature"] = multibase_encode(
            OTHER_KEY.sign(dl.entry_input(unsigned))
        )
        assert codes(verify(entries, checkpoints)) == {
            ("entry", 5, Failure.BAD_SIGNATURE)
        }

    def test_unknown_key(self) -> None:
        entries, checkpoints = sound_log()
        report = dl.verify_log(entries, checkpoints, lambda key_id: None)
        assert {p.code for p in report.problems} == {Failure.UNKNOWN_KEY}
        assert len(report.problems) == 50 + len(checkpoints)

    def test_checkpoint_forged_with_another_key(self) -> None:
        entries, checkpoints = sound_log()
        root = dl.tree_root(hashes_of(entries))
        forged = dl.make_checkpoint(50, root, START, OTHER_KEY, KEY_ID, ORIGIN)
        report = verify(entries, [*checkpoints, forged])
        assert codes(report) == {("checkpoint", 5, Failure.BAD_SIGNATURE)}
        with pytest.raises(LogError):
            dl.verify_checkpoint(forged, KEY.public_key())

    def test_checkpoint_with_a_wrong_root(self) -> None:
        entries, checkpoints = sound_log()
        wrong = dl.tree_root(hashes_of(entries)[:19])
        checkpoints[3] = dl.make_checkpoint(20, wrong, START, KEY, KEY_ID, ORIGIN)
        found = codes(verify(entries, checkpoints))
        assert ("checkpoint", 3, Failure.ROOT_MISMATCH) in found

    def test_fork_two_roots_for_one_size(self) -> None:
        entries, checkpoints = sound_log()
        forked = build_entries(20, body_of=lambda i: {"n": i, "forked": i >= 10})
        other = checkpoint_for(forked, 20, minutes=30)
        found = codes(verify(entries, [*checkpoints[:4], other]))
        assert ("checkpoint", 4, Failure.FORK) in found
        assert ("checkpoint", 4, Failure.ROOT_MISMATCH) in found

    def test_fork_a_later_checkpoint_does_not_extend_an_earlier_one(self) -> None:
        entries, _ = sound_log()
        forked = build_entries(20, body_of=lambda i: {"n": i, "forked": i >= 10})
        earlier = checkpoint_for(entries, 8)
        later = checkpoint_for(forked, 20)
        report = verify(entries, [earlier, later])
        assert ("checkpoint", 1, Failure.ROOT_MISMATCH) in codes(report)
        assert ("checkpoint", 1, Failure.INCONSISTENT) in codes(report)
        assert report.latest is not None and report.latest.size == 8

    def test_history_rewritten_after_a_mirrored_checkpoint(self) -> None:
        # The node itself re-signs entries 10.. differently: every entry
        # verifies, but a checkpoint a peer mirrored earlier betrays it.
        _, checkpoints = sound_log()
        mirrored = checkpoints[3]  # size 20, of the original history
        rewritten = build_entries(50, body_of=lambda i: {"n": i, "v": int(i >= 10)})
        fresh = checkpoint_for(rewritten, 50)
        report = verify(rewritten, [mirrored, fresh])
        assert {p.item for p in report.problems} == {"checkpoint"}
        assert ("checkpoint", 0, Failure.ROOT_MISMATCH) in codes(report)
        assert ("checkpoint", 1, Failure.INCONSISTENT) in codes(report)

    def test_checkpoints_out_of_order(self) -> None:
        entries, checkpoints = sound_log()
        found = codes(verify(entries, [checkpoints[3], checkpoints[1]]))
        assert found == {("checkpoint", 1, Failure.OUT_OF_ORDER)}

    def test_checkpoint_of_another_log(self) -> None:
        entries, checkpoints = sound_log()
        root = dl.tree_root(hashes_of(entries)[:8])
        elsewhere = dl.make_checkpoint(
            8, root, START, KEY, KEY_ID, "https://other.example/log"
        )
        found = codes(verify(entries, [*checkpoints, elsewhere]))
        assert found == {("checkpoint", 5, Failure.ORIGIN_MISMATCH)}
        report = dl.verify_log(
            entries, checkpoints, KEYS.get, origin="https://other.example/log"
        )
        assert len(report.problems) == len(checkpoints)

    def test_unreadable_entry_makes_later_checkpoints_unverifiable(self) -> None:
        entries, checkpoints = sound_log()
        entries[15] = {"hello": "world"}
        found = codes(verify(entries, checkpoints))
        assert ("entry", 15, Failure.MALFORMED) in found
        assert ("checkpoint", 3, Failure.UNVERIFIABLE) in found
        assert ("entry", 16, Failure.PREV_MISMATCH) not in found

    def test_time_going_back(self) -> None:
        prev = dl.parse_entry(sound_log()[0][0])
        later = dl.make_entry(
            prev, "charter.adopt", ORIGIN, {}, START + timedelta(1), KEY, KEY_ID
        )
        # Sign a successor dated before it, bypassing make_entry's check.
        entry = dl.parse_entry(later)
        unsigned = {
            "index": 2,
            "kind": "charter.adopt",
            "subject": ORIGIN,
            "body": {},
            "at": "2026-01-05T09:30:00Z",
            "prev": entry.hash.hex(),
            "keyId": KEY_ID,
        }
        message = dl.entry_input(unsigned)
        doc = {
            **unsigned,
            "hash": sha(message).hex(),
            "signature": multibase_encode(KEY.sign(message)),
        }
        log = [sound_log()[0][0], later, doc]
        assert codes(verify(log, [])) == {("entry", 2, Failure.TIME_REGRESSION)}
        with pytest.raises(LogError) as info:
            dl.check_link(entry, dl.parse_entry(doc))
        assert info.value.code is Failure.TIME_REGRESSION

    def test_report_raises_its_first_problem(self) -> None:
        entries, checkpoints = sound_log()
        entries[5]["signature"] = entries[6]["signature"]
        with pytest.raises(LogError, match="entry 5: bad-signature") as info:
            verify(entries, checkpoints).raise_for_problems()
        assert info.value.code is Failure.BAD_SIGNATURE

    def test_strict_members(self) -> None:
        entries, checkpoints = sound_log()
        extra = {**entries[3], "comment": "not covered by the hash"}
        with pytest.raises(LogError, match="unexpected"):
            dl.parse_entry(extra)
        with pytest.raises(LogError, match="lacks"):
            dl.parse_checkpoint({k: v for k, v in checkpoints[0].items() if k != "at"})
        upper = {**checkpoints[0], "root": checkpoints[0]["root"].upper()}
        with pytest.raises(LogError, match="hex"):
            dl.parse_checkpoint(upper)
        with pytest.raises(LogError, match="integer"):
            dl.parse_entry({**entries[3], "index": True})


# --- properties ------------------------------------------------------------

ENTRY_OPS = ["set", "delete", "add", "swap", "drop", "duplicate"]
CHECKPOINT_OPS = ["cp-set", "cp-delete"]


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_random_tampering_never_verifies(data: st.DataObject) -> None:
    entries, checkpoints = sound_log()
    op = data.draw(st.sampled_from(ENTRY_OPS + CHECKPOINT_OPS), label="op")
    i = data.draw(st.integers(0, 49), label="i")
    c = data.draw(st.integers(0, len(checkpoints) - 1), label="c")
    if op == "set":
        member = data.draw(st.sampled_from(sorted(dl.ENTRY_MEMBERS)))
        value = data.draw(JSON)
        assume(value != entries[i][member])
        entries[i][member] = value
    elif op == "delete":
        del entries[i][data.draw(st.sampled_from(sorted(dl.ENTRY_MEMBERS)))]
    elif op == "add":
        entries[i][data.draw(st.text(max_size=8))] = data.draw(JSON)
        assume(set(entries[i]) != dl.ENTRY_MEMBERS)
    elif op == "swap":
        j = data.draw(st.integers(0, 49))
        assume(i != j)
        entries[i], entries[j] = entries[j], entries[i]
    elif op == "drop":
        del entries[i]
    elif op == "duplicate":
        entries.insert(i, copy.deepcopy(entries[i]))
    elif op == "cp-set":
        member = data.draw(st.sampled_from(sorted(dl.CHECKPOINT_MEMBERS)))
        value = data.draw(JSON)
        assume(value != checkpoints[c][member])
        checkpoints[c][member] = value
    else:
        del checkpoints[c][data.draw(st.sampled_from(sorted(dl.CHECKPOINT_MEMBERS)))]
    assert not verify(entries, checkpoints).ok


def junk(members: frozenset[str]) -> st.SearchStrategy[Any]:
    """Any JSON, some members of a document, or all of them with any values."""
    names = sorted(members)
    return (
        JSON
        | st.dictionaries(st.sampled_from(names), JSON)
        | st.fixed_dictionaries({name: JSON for name in names})
    )


@given(
    st.lists(junk(dl.ENTRY_MEMBERS), max_size=5),
    st.lists(junk(dl.CHECKPOINT_MEMBERS), max_size=5),
)
@settings(max_examples=150, deadline=None)
def test_verifier_never_raises_on_junk(
    entries: list[Any], checkpoints: list[Any]
) -> None:
    report = verify(entries, checkpoints)
    assert not report.ok or (not entries and not checkpoints)
    for doc in entries:
        for check in (dl.parse_entry, lambda d: dl.verify_entry(d, KEY.public_key())):
            with contextlib.suppress(LogError):
                check(doc)
    for doc in checkpoints:
        with contextlib.suppress(LogError):
            dl.verify_checkpoint(doc, KEY.public_key())


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_valid_entries_with_one_member_replaced_raise_only_log_error(
    data: st.DataObject,
) -> None:
    entries, checkpoints = sound_log()
    entry = entries[data.draw(st.integers(0, 49))]
    entry[data.draw(st.sampled_from(sorted(dl.ENTRY_MEMBERS)))] = data.draw(JSON)
    checkpoint = checkpoints[data.draw(st.integers(0, len(checkpoints) - 1))]
    checkpoint[data.draw(st.sampled_from(sorted(dl.CHECKPOINT_MEMBERS)))] = data.draw(
        JSON
    )
    for call in (
        lambda: dl.verify_entry(entry, KEY.public_key()),
        lambda: dl.verify_checkpoint(checkpoint, KEY.public_key()),
    ):
        with contextlib.suppress(LogError):
            call()


ANY = JSON | st.binary(max_size=40) | st.lists(st.binary(max_size=40), max_size=8)


@given(ANY, ANY, ANY, ANY, ANY)
def test_proof_verifiers_return_false_on_junk(
    a: Any, b: Any, c: Any, d: Any, e: Any
) -> None:
    assert dl.verify_inclusion(a, b, c, d, e) in (True, False)
    assert dl.verify_consistency(a, b, c, d, e) in (True, False)


@given(
    st.integers(-3, 60),
    st.integers(-3, 60),
    st.lists(st.binary(min_size=32, max_size=32), max_size=8),
)
def test_proof_generators_raise_only_log_error(m: int, n: int, fake: Any) -> None:
    calls: list[Callable[[], list[bytes]]] = [
        lambda: dl.inclusion_proof(LEAVES, m, n),
        lambda: dl.consistency_proof(LEAVES, m, n),
    ]
    for call in calls:
        try:
            proof = call()
        except LogError:
            continue
        assert all(len(p) == 32 for p in proof)
    root = dl.tree_root(LEAVES[: max(0, min(n, 50))])
    if fake and 0 <= m < n <= 50:
        assume(fake != dl.inclusion_proof(LEAVES, m, n))
        assert not dl.verify_inclusion(dl.leaf_hash(LEAVES[m]), m, n, fake, root)
