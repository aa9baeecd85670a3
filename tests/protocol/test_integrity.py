"""Tests for protocol.integrity: eddsa-jcs-2022 proofs (vc-di-eddsa, FEP-8b32)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from protocol import integrity, keys
from protocol.actors import parse_actor
from protocol.integrity import ProofError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def vector_dir(name: str) -> Path:
    path = VECTORS / name
    if not path.is_dir():
        pytest.skip(
            f"test vectors not found at {path} (shared/ is laid beside the repo)"
        )
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def tamper(text: str, index: int) -> str:
    """Change the character at ``index`` to another of the same class."""
    old = text[index]
    new = "2" if old not in "2" else "3"
    if old.isalpha():
        new = "b" if old != "b" else "c"
    return text[:index] + new + text[index + 1 :]


# --- vc-di-eddsa B.3: every intermediate value -----------------------------


class TestVcDiEddsaVectors:
    @pytest.fixture
    def folder(self) -> Path:
        return vector_dir("vc-di-eddsa")

    @pytest.fixture
    def secret(self, folder: Path) -> ed25519.Ed25519PrivateKey:
        pair = read_json(folder / "keyPair.json")
        return keys.private_key_from_multibase(pair["privateKeyMultibase"])

    @pytest.fixture
    def public(self, folder: Path) -> keys.PublicKey:
        pair = read_json(folder / "keyPair.json")
        return keys.public_key_from_multibase(pair["publicKeyMultibase"])

    def expected(self, folder: Path, name: str) -> str:
        return (folder / "eddsa-jcs-2022" / name).read_text()

    def test_every_intermediate_value(
        self, folder: Path, secret: ed25519.Ed25519PrivateKey
    ) -> None:
        unsigned = read_json(folder / "unsigned.json")
        config = read_json(folder / "eddsa-jcs-2022" / "proofConfigJCS.json")

        canonical_doc = integrity.canonicalize(unsigned)
        assert canonical_doc.decode() == self.expected(folder, "canonDocJCS.txt")
        doc_hash = hashlib.sha256(canonical_doc).hexdigest()
        assert doc_hash == self.expected(folder, "docHashJCS.txt")

        options = integrity.proof_configuration(
            unsigned, config["verificationMethod"], created=CREATED
        )
        assert options == config
        canonical_config = integrity.canonicalize(options)
        assert canonical_config.decode() == self.expected(folder, "proofCanonJCS.txt")
        proof_hash = hashlib.sha256(canonical_config).hexdigest()
        assert proof_hash == self.expected(folder, "proofHashJCS.txt")

        data = integrity.hash_data(unsigned, options)
        assert data.hex() == self.expected(folder, "combinedHashJCS.txt")
        assert data.hex() == proof_hash + doc_hash

        # Ed25519 is deterministic (RFC 8032), so re-signing reproduces the bytes.
        signature = secret.sign(data)
        assert signature.hex() == self.expected(folder, "sigHexJCS.txt")
        assert keys.multibase_encode(signature) == self.expected(
            folder, "sigBTC58JCS.txt"
        )

    def test_create_proof_reproduces_signed_document(
        self, folder: Path, secret: ed25519.Ed25519PrivateKey
    ) -> None:
        unsigned = read_json(folder / "unsigned.json")
        signed = read_json(folder / "eddsa-jcs-2022" / "signedJCS.json")
        method = signed["proof"]["verificationMethod"]
        created = integrity.create_proof(unsigned, secret, method, created=CREATED)
        assert created == signed
        assert "proof" not in unsigned  # the input is not modified

    def test_signed_document_verifies(
        self, folder: Path, public: keys.PublicKey
    ) -> None:
        signed = read_json(folder / "eddsa-jcs-2022" / "signedJCS.json")
        result = integrity.verify_proof_with_key(signed, public)
        assert result.verification_method == signed["proof"]["verificationMethod"]
        assert result.proof_purpose == "assertionMethod"
        assert result.created == CREATED

    @pytest.mark.parametrize("index", [0, 10, 44, -1])
    def test_one_character_of_proof_value_fails(
        self, folder: Path, public: keys.PublicKey, index: int
    ) -> None:
        signed = read_json(folder / "eddsa-jcs-2022" / "signedJCS.json")
        signed["proof"]["proofValue"] = tamper(signed["proof"]["proofValue"], index)
        with pytest.raises(ProofError):
            integrity.verify_proof_with_key(signed, public)

    @pytest.mark.parametrize(
        "path",
        [("name",), ("credentialSubject", "alumniOf"), ("validFrom",), ("id",)],
    )
    def test_one_character_of_document_fails(
        self, folder: Path, public: keys.PublicKey, path: tuple[str, ...]
    ) -> None:
        signed = read_json(folder / "eddsa-jcs-2022" / "signedJCS.json")
        target = signed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = tamper(target[path[-1]], 3)
        with pytest.raises(ProofError, match="does not verify"):
            integrity.verify_proof_with_key(signed, public)

    def test_changed_proof_options_fail(
        self, folder: Path, public: keys.PublicKey
    ) -> None:
        signed = read_json(folder / "eddsa-jcs-2022" / "signedJCS.json")
        signed["proof"]["created"] = "2023-02-24T23:36:39Z"
        with pytest.raises(ProofError, match="does not verify"):
            integrity.verify_proof_with_key(signed, public)


# --- FEP-8b32 ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["current", "previous_2024"])
class TestFep8b32Vectors:
    def load(self, name: str) -> dict[str, Any]:
        folder = vector_dir("fep-8b32")
        return {
            "vectors": read_json(folder / "vectors.json")[name],
            "signed": read_json(folder / f"{name}.signed.json"),
            "unsigned": read_json(folder / f"{name}.unsigned.json"),
            # The README's defect: top-level assertionMethod is not defined by
            # the actor's contexts, so the actor is read as plain JSON.
            "actor": parse_actor(read_json(folder / f"{name}.actor.json")),
        }

    def test_signed_object_verifies_with_actor_key(self, name: str) -> None:
        data = self.load(name)
        result = integrity.verify_proof(
            data["signed"], lambda method: data["actor"].key(method).public_key
        )
        assert result.verification_method == data["vectors"]["verification_method"]
        # What the caller must still check (not done by verify_proof):
        assert (
            data["actor"].key(result.verification_method).owner
            == (data["signed"]["actor"])
        )

    async def test_async_lookup(self, name: str) -> None:
        data = self.load(name)

        async def lookup(method: str) -> keys.PublicKey:
            return data["actor"].key(method).public_key  # type: ignore[no-any-return]

        result = await integrity.verify_proof_async(data["signed"], lookup)
        assert result.created == CREATED

    def test_resigning_reproduces_proof(self, name: str) -> None:
        data = self.load(name)
        secret = keys.private_key_from_multibase(
            data["vectors"]["secret_key_multibase"]
        )
        signed = integrity.create_proof(
            data["unsigned"],
            secret,
            data["vectors"]["verification_method"],
            created=datetime.fromisoformat(data["vectors"]["current_time"]),
        )
        assert signed["proof"]["proofValue"] == data["signed"]["proof"]["proofValue"]
        assert signed == data["signed"]

    def test_proof_context_is_signed(self, name: str) -> None:
        data = self.load(name)
        key = data["actor"].assertion_methods[0].public_key
        secret = keys.private_key_from_multibase(
            data["vectors"]["secret_key_multibase"]
        )
        # Signing without the proof's @context gives another value (SOURCE.txt).
        options = integrity.proof_configuration(
            data["unsigned"], data["vectors"]["verification_method"], created=CREATED
        )
        del options["@context"]
        other = secret.sign(integrity.hash_data(data["unsigned"], options))
        assert keys.multibase_encode(other) != data["signed"]["proof"]["proofValue"]
        integrity.verify_proof_with_key(data["signed"], key)

    @pytest.mark.parametrize("index", [1, 30, -2])
    def test_one_character_of_proof_value_fails(self, name: str, index: int) -> None:
        data = self.load(name)
        signed = data["signed"]
        signed["proof"]["proofValue"] = tamper(signed["proof"]["proofValue"], index)
        key = data["actor"].assertion_methods[0].public_key
        with pytest.raises(ProofError):
            integrity.verify_proof_with_key(signed, key)

    def test_one_character_of_document_fails(self, name: str) -> None:
        data = self.load(name)
        signed = data["signed"]
        signed["object"]["content"] = "Hello worle"
        key = data["actor"].assertion_methods[0].public_key
        with pytest.raises(ProofError, match="does not verify"):
            integrity.verify_proof_with_key(signed, key)

    def test_number_change_fails(self, name: str) -> None:
        data = self.load(name)
        signed = data["signed"]
        signed["object"]["location"]["latitude"] = 25.273963
        key = data["actor"].assertion_methods[0].public_key
        with pytest.raises(ProofError):
            integrity.verify_proof_with_key(signed, key)

    def test_document_context_must_start_with_proof_context(self, name: str) -> None:
        data = self.load(name)
        signed = data["signed"]
        signed["@context"] = list(reversed(signed["@context"]))
        key = data["actor"].assertion_methods[0].public_key
        with pytest.raises(ProofError, match="@context"):
            integrity.verify_proof_with_key(signed, key)

    def test_extra_document_context_after_proof_context_is_allowed(
        self, name: str
    ) -> None:
        # vc-di-eddsa 3.3.2 step 4: the proof's @context stands for the
        # document's, which may only be extended at its end.
        data = self.load(name)
        signed = data["signed"]
        signed["@context"] = [*signed["@context"], "https://w3id.org/security/v1"]
        key = data["actor"].assertion_methods[0].public_key
        integrity.verify_proof_with_key(signed, key)


# --- our own proofs ---------------------------------------------------------


@pytest.fixture(scope="module")
def secret() -> ed25519.Ed25519PrivateKey:
    return keys.generate_ed25519()


NOTE = {
    "@context": ["https://www.w3.org/ns/activitystreams"],
    "id": "https://bocage.example/notes/1",
    "type": "Note",
    "attributedTo": "https://bocage.example/actor",
    "content": "<p>Bonjour, été 🌳</p>",
    "published": "2026-12-03T12:00:00Z",
}
METHOD = "https://bocage.example/actor#ed25519-key"


def test_create_and_verify(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD, created=CREATED)
    assert signed["proof"]["@context"] == NOTE["@context"]
    assert signed["proof"]["created"] == "2023-02-24T23:36:38Z"
    result = integrity.verify_proof_with_key(signed, secret.public_key())
    assert result.verification_method == METHOD


def test_created_is_optional_and_normalised(secret: ed25519.Ed25519PrivateKey) -> None:
    plain = integrity.create_proof(NOTE, secret, METHOD)
    assert "created" not in plain["proof"]
    assert integrity.verify_proof_with_key(plain, secret.public_key()).created is None
    paris = datetime(2026, 12, 3, 15, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    signed = integrity.create_proof(NOTE, secret, METHOD, created=paris)
    assert signed["proof"]["created"] == "2026-12-03T14:00:00Z"
    with pytest.raises(ProofError, match="timezone"):
        integrity.create_proof(NOTE, secret, METHOD, created=datetime(2026, 1, 1))


def test_wrong_key_fails(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD, created=CREATED)
    other = keys.generate_ed25519().public_key()
    with pytest.raises(ProofError, match="does not verify"):
        integrity.verify_proof_with_key(signed, other)


def test_rsa_key_is_refused(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD, created=CREATED)
    rsa_pub = keys.generate_rsa().public_key()
    with pytest.raises(ProofError, match="Ed25519"):
        integrity.verify_proof(signed, lambda _method: rsa_pub)


def test_purpose_and_expiry(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(
        NOTE, secret, METHOD, created=CREATED, proof_purpose="authentication"
    )
    with pytest.raises(ProofError, match="purpose"):
        integrity.verify_proof_with_key(signed, secret.public_key())
    integrity.verify_proof_with_key(
        signed, secret.public_key(), expected_purpose="authentication"
    )

    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    options = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    options["proofPurpose"] = "assertionMethod"
    options["expires"] = "2024-01-01T00:00:00Z"
    value = secret.sign(integrity.hash_data(unsigned, options))
    expiring = {
        **unsigned,
        "proof": {**options, "proofValue": keys.multibase_encode(value)},
    }
    with pytest.raises(ProofError, match="expired"):
        integrity.verify_proof_with_key(expiring, secret.public_key())
    integrity.verify_proof_with_key(
        expiring, secret.public_key(), now=datetime(2023, 6, 1, tzinfo=UTC)
    )


def test_naive_now_is_a_programming_error(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD)
    with pytest.raises(ValueError, match="timezone"):
        integrity.verify_proof_with_key(
            signed, secret.public_key(), now=datetime(2026, 1, 1)
        )


def test_lookup_called_once_with_method(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD, created=CREATED)
    calls: list[str] = []

    def lookup(method: str) -> keys.PublicKey:
        calls.append(method)
        return secret.public_key()

    integrity.verify_proof(signed, lookup)
    assert calls == [METHOD]


def test_lookup_not_called_for_malformed_proof() -> None:
    def lookup(method: str) -> keys.PublicKey:
        raise AssertionError("lookup must not run")

    with pytest.raises(ProofError):
        integrity.verify_proof(
            {**NOTE, "proof": {"type": "DataIntegrityProof"}}, lookup
        )


def test_proof_set_of_one_is_accepted(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD, created=CREATED)
    signed["proof"] = [signed["proof"]]
    integrity.verify_proof_with_key(signed, secret.public_key())
    signed["proof"] = signed["proof"] * 2
    with pytest.raises(ProofError, match="sets"):
        integrity.verify_proof_with_key(signed, secret.public_key())


def test_existing_proof_is_not_overwritten(secret: ed25519.Ed25519PrivateKey) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD)
    with pytest.raises(ProofError, match="already"):
        integrity.create_proof(signed, secret, METHOD)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "Ed25519Signature2020"}, "type"),
        ({"cryptosuite": "eddsa-rdfc-2022"}, "cryptosuite"),
        ({"verificationMethod": 3}, "verificationMethod"),
        ({"proofPurpose": None}, "proofPurpose"),
        ({"proofValue": "uAAAA"}, "base58btc"),
        ({"proofValue": "z2"}, "64-byte"),
        ({"created": "yesterday"}, "created"),
        ({"created": "2023-02-24T23:36:38"}, "time zone"),
    ],
)
def test_malformed_proofs(
    secret: ed25519.Ed25519PrivateKey, change: dict[str, Any], reason: str
) -> None:
    signed = integrity.create_proof(NOTE, secret, METHOD, created=CREATED)
    signed["proof"].update(change)
    with pytest.raises(ProofError) as info:
        integrity.verify_proof_with_key(signed, secret.public_key())
    assert reason in info.value.reason


def test_missing_proof_and_non_objects(secret: ed25519.Ed25519PrivateKey) -> None:
    documents: list[object] = [NOTE, [], "x", {"proof": "x"}, {"proof": []}]
    for document in documents:
        with pytest.raises(ProofError):
            integrity.verify_proof_with_key(document, secret.public_key())


def test_uncanonicalisable_documents_are_refused(
    secret: ed25519.Ed25519PrivateKey,
) -> None:
    with pytest.raises(ProofError, match="canonicalised"):
        integrity.create_proof({**NOTE, "n": 2**60}, secret, METHOD)
    with pytest.raises(ProofError, match="canonicalised"):
        integrity.create_proof({**NOTE, "n": float("nan")}, secret, METHOD)


# --- properties -------------------------------------------------------------

PROOF_MEMBER = st.one_of(
    JSON,
    st.sampled_from(
        [
            "DataIntegrityProof",
            "eddsa-jcs-2022",
            "assertionMethod",
            "2023-02-24T23:36:38Z",
            "z" + "2" * 87,
            METHOD,
        ]
    ),
)
PROOF = st.fixed_dictionaries(
    {},
    optional={
        name: PROOF_MEMBER
        for name in (
            "type",
            "cryptosuite",
            "verificationMethod",
            "proofPurpose",
            "proofValue",
            "created",
            "expires",
            "@context",
        )
    },
)


@given(
    st.one_of(
        JSON,
        st.dictionaries(st.text(max_size=8), JSON).map(dict),
        PROOF.map(lambda proof: {**NOTE, "proof": proof}),
    )
)
def test_verify_raises_only_proof_errors(document: Any) -> None:
    public = _PROPERTY_KEY.public_key()
    with contextlib.suppress(ProofError):
        integrity.verify_proof_with_key(copy.deepcopy(document), public)
    with contextlib.suppress(ProofError):
        integrity.parse_proof(document)


@given(st.dictionaries(st.text(max_size=8), JSON, max_size=6))
def test_create_then_verify_any_document(document: dict[str, Any]) -> None:
    document.pop("proof", None)
    try:
        signed = integrity.create_proof(
            document, _PROPERTY_KEY, METHOD, created=CREATED
        )
    except ProofError:
        return  # not canonicalisable (e.g. a huge integer or NaN)
    integrity.verify_proof_with_key(signed, _PROPERTY_KEY.public_key())


_PROPERTY_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def test_timedelta_is_not_a_created_value(secret: ed25519.Ed25519PrivateKey) -> None:
    created = CREATED + timedelta(microseconds=999)
    signed = integrity.create_proof(NOTE, secret, METHOD, created=created)
    assert signed["proof"]["created"] == "2023-02-24T23:36:38Z"
