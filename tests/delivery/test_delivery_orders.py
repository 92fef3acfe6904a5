"""The signed play order: format, canonical form, signature and the checks around it."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from broadcaster.delivery.orders import (
    LOCAL_ZONE,
    OrderBadSignature,
    OrderExpired,
    OrderMalformed,
    OrderRejected,
    OrderSigner,
    OrderVerifier,
    OrderWrongCluster,
    PlayOrder,
    canonical_bytes,
)

NOW = datetime(2025, 6, 1, 6, 55, tzinfo=LOCAL_ZONE)


@pytest.fixture
def signer() -> OrderSigner:
    """A fresh server key."""
    return OrderSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def verifier(signer: OrderSigner) -> OrderVerifier:
    """A verifier trusting ``signer``."""
    return OrderVerifier([signer.public_key])


def _order(signer: OrderSigner, **fields: Any) -> PlayOrder:
    values: dict[str, Any] = {
        "order_id": uuid.UUID("1b4e28ba-2fa1-41d2-883f-0016d3cca427"), "seq": 7, "cluster_id": "thon-3",
        "airing_id": "airing-12", "priority": "normal", "audio_sha256": "ab" * 32, "audio_size": 48000,
        "audio_url": "http://127.0.0.1:8000/audio/abab.mp3", "play_at": NOW + timedelta(minutes=5),
        "expires_at": NOW + timedelta(minutes=7), "issued_at": NOW, "key_id": signer.key_id,
    }
    return PlayOrder(**(values | fields))


def test_signed_order_verifies_and_round_trips(signer: OrderSigner, verifier: OrderVerifier) -> None:
    order = _order(signer)
    wire = json.dumps(signer.sign(order))

    assert verifier.verify(wire, cluster_id="thon-3", now=NOW) == order
    assert verifier.verify(wire.encode(), cluster_id="thon-3", now=NOW) == order


def test_times_travel_with_the_vietnam_offset(signer: OrderSigner) -> None:
    order = _order(signer, play_at=datetime(2025, 6, 1, 0, 0, tzinfo=UTC))

    assert order.wire()["play_at"] == "2025-06-01T07:00:00+07:00"


def test_canonical_form_is_sorted_compact_utf8() -> None:
    assert canonical_bytes({"b": 1, "a": "Thôn Đông", "c": None}) == '{"a":"Thôn Đông","b":1,"c":null}'.encode()


def test_verification_uses_the_received_text_not_a_reserialization(
    signer: OrderSigner, verifier: OrderVerifier
) -> None:
    # Another JSON library may order keys and space differently on the wire: still valid.
    envelope = signer.sign(_order(signer))
    reordered = {"signature": envelope["signature"], "order": dict(reversed(list(envelope["order"].items())))}

    assert verifier.verify(json.dumps(reordered, indent=2), cluster_id="thon-3", now=NOW).seq == 7


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", "emergency"), ("play_at", "2025-06-01T07:00:01+07:00"), ("cluster_id", "thon-4"), ("seq", 8)],
)
def test_any_change_breaks_the_signature(signer: OrderSigner, verifier: OrderVerifier, field: str, value: Any) -> None:
    envelope = signer.sign(_order(signer))
    envelope["order"][field] = value

    with pytest.raises(OrderBadSignature) as caught:
        verifier.verify(envelope, cluster_id="thon-3", now=NOW)
    assert caught.value.code == "order_bad_signature" and caught.value.order is None


def test_a_key_the_agent_does_not_trust_is_refused(signer: OrderSigner) -> None:
    stranger = OrderVerifier([Ed25519PrivateKey.generate().public_key()])

    with pytest.raises(OrderBadSignature):
        stranger.verify(signer.sign(_order(signer)), cluster_id="thon-3", now=NOW)


def test_several_trusted_keys_during_a_rotation(signer: OrderSigner) -> None:
    old = OrderSigner(Ed25519PrivateKey.generate())
    verifier = OrderVerifier([old.public_key, signer.public_key])

    for who in (old, signer):
        assert verifier.verify(who.sign(_order(who)), cluster_id="thon-3", now=NOW).key_id == who.key_id


def test_wrong_cluster_and_expired_orders_are_refused_but_attributable(
    signer: OrderSigner, verifier: OrderVerifier
) -> None:
    envelope = signer.sign(_order(signer))

    with pytest.raises(OrderWrongCluster) as wrong:
        verifier.verify(envelope, cluster_id="thon-9", now=NOW)
    with pytest.raises(OrderExpired) as expired:
        verifier.verify(envelope, cluster_id="thon-3", now=NOW + timedelta(minutes=8))

    assert wrong.value.order is not None and wrong.value.status == 403
    assert "thon-3" in wrong.value.message and "thon-9" in wrong.value.message
    assert expired.value.order is not None and expired.value.code == "order_expired"
    assert "07:02:00" in expired.value.message  # the expiry in local time


@pytest.mark.parametrize(
    "envelope",
    [b"not json", b"[]", b'{"order": {}}', b'{"order": [], "signature": "AA=="}',
     b'{"order": {}, "signature": "%%%"}', b'{"order": {}, "signature": "AA==", "extra": 1}'],
)
def test_malformed_envelopes(verifier: OrderVerifier, envelope: bytes) -> None:
    with pytest.raises(OrderMalformed) as caught:
        verifier.verify(envelope, cluster_id="thon-3", now=NOW)
    assert caught.value.code == "order_malformed" and caught.value.status == 400


def test_signed_but_invalid_order_is_malformed() -> None:
    key = Ed25519PrivateKey.generate()
    signer = OrderSigner(key)
    wire = _order(signer).wire()
    wire["play_at"] = "2025-06-01T07:00:00"  # naive: refused even when properly signed
    envelope = {"order": wire, "signature": base64.b64encode(key.sign(canonical_bytes(wire))).decode()}

    with pytest.raises(OrderMalformed):
        OrderVerifier([key.public_key()]).verify(envelope, cluster_id="thon-3", now=NOW)


def test_order_model_rules(signer: OrderSigner) -> None:
    with pytest.raises(ValidationError):
        _order(signer, audio_url=None)  # a play order needs its audio
    with pytest.raises(ValidationError):
        _order(signer, expires_at=NOW)  # expires before it plays
    with pytest.raises(ValidationError):
        _order(signer, play_at=datetime(2025, 6, 1, 7, 0))  # naive
    with pytest.raises(ValidationError):
        _order(signer, audio_url="file:///etc/passwd")
    with pytest.raises(ValidationError):
        _order(signer, cluster_id="../etc")
    stop = _order(signer, kind="stop", audio_url=None, audio_sha256=None, audio_size=None)
    assert stop.kind == "stop"


def test_signer_refuses_an_order_naming_another_key(signer: OrderSigner) -> None:
    with pytest.raises(ValueError):
        signer.sign(_order(signer, key_id="0000000000000000"))


def test_errors_form_one_family_with_vietnamese_messages(signer: OrderSigner, verifier: OrderVerifier) -> None:
    codes = set()
    for envelope, cluster in ((b"{", "thon-3"), (signer.sign(_order(signer)), "thon-1")):
        with pytest.raises(OrderRejected) as caught:
            verifier.verify(envelope, cluster_id=cluster, now=NOW)
        codes.add(caught.value.code)
        assert any(ch in caught.value.message for ch in "ăâđêôơư")
    assert codes == {"order_malformed", "order_wrong_cluster"}


def test_a_volume_set_from_the_pages_is_signed_and_absent_otherwise(signer: OrderSigner,
                                                                     verifier: OrderVerifier) -> None:
    plain = signer.sign(_order(signer))
    assert "volume" not in plain["order"]  # unchanged wire form for clusters without a set volume
    loud = _order(signer, volume=60)
    envelope = signer.sign(loud)
    assert verifier.verify(json.dumps(envelope), cluster_id="thon-3", now=NOW).volume == 60
    envelope["order"]["volume"] = 100  # turned up in transit: the signature no longer matches
    with pytest.raises(OrderBadSignature):
        verifier.verify(json.dumps(envelope), cluster_id="thon-3", now=NOW)
    with pytest.raises(ValidationError):
        _order(signer, volume=101)
