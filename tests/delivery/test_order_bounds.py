"""The edges of the signed order format: size cap, expiry boundary, numbers that are not integers,
and the bounds on every field of orders, heartbeats and agent reports (a cluster must not be able
to store junk or overflow a column with what it says).

Bounds are written here as literal numbers on purpose: a test that reused the module's constants
would follow a changed constant instead of noticing it.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ValidationError

from broadcaster.delivery.orders import (
    LOCAL_ZONE,
    AgentProblem,
    AgentReport,
    ClockEstimate,
    Heartbeat,
    NowPlaying,
    OrderBadSignature,
    OrderExpired,
    OrderKind,
    OrderMalformed,
    OrderRejected,
    OrderReplayed,
    OrderSigner,
    OrderVerifier,
    OrderWrongCluster,
    PlayOrder,
    Priority,
    ReportStage,
    canonical_bytes,
)

NOW = datetime(2025, 6, 1, 6, 55, tzinfo=LOCAL_ZONE)
KEY = Ed25519PrivateKey.generate()
SIGNER = OrderSigner(KEY)
VERIFIER = OrderVerifier([SIGNER.public_key])


def _order_fields(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "order_id": str(uuid.UUID("1b4e28ba-2fa1-41d2-883f-0016d3cca427")), "seq": 7, "cluster_id": "thon-3",
        "airing_id": "airing-12", "kind": "play", "priority": "normal", "audio_sha256": "ab" * 32,
        "audio_size": 48000, "audio_url": "http://127.0.0.1:8000/audio/abab.mp3",
        "play_at": (NOW + timedelta(minutes=5)).isoformat(), "expires_at": (NOW + timedelta(minutes=7)).isoformat(),
        "issued_at": NOW.isoformat(), "key_id": SIGNER.key_id,
    }
    return values | fields


def _signed(order_object: dict[str, Any]) -> dict[str, Any]:
    """Sign the raw object as it stands (even one the model would refuse), as a key holder could."""
    return {"order": order_object,
            "signature": base64.b64encode(KEY.sign(canonical_bytes(order_object))).decode("ascii")}


# --- the envelope --------------------------------------------------------------------------


def _padded_envelope(total: int) -> bytes:
    """A signed envelope, padded with trailing spaces (valid JSON) to exactly ``total`` bytes."""
    text = json.dumps(_signed(_order_fields())).encode("utf-8")
    return text + b" " * (total - len(text))


def test_the_envelope_cap_is_64_kib_exactly() -> None:
    assert VERIFIER.verify(_padded_envelope(65536), cluster_id="thon-3", now=NOW).seq == 7
    assert VERIFIER.verify(_padded_envelope(65536).decode(), cluster_id="thon-3", now=NOW).seq == 7
    with pytest.raises(OrderMalformed) as caught:
        VERIFIER.verify(_padded_envelope(65537), cluster_id="thon-3", now=NOW)
    assert "65536" in (caught.value.detail or "")


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(OrderMalformed) as text:
        VERIFIER.verify(b"[" * 30000 + b"]" * 30000, cluster_id="thon-3", now=NOW)
    assert "nested" in (text.value.detail or "")
    nested: Any = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(OrderMalformed) as mapping:
        VERIFIER.verify({"order": {"deep": nested}, "signature": "AA=="}, cluster_id="thon-3", now=NOW)
    assert "nested" in (mapping.value.detail or "")


def test_bytes_that_are_not_utf8_are_malformed() -> None:
    with pytest.raises(OrderMalformed):
        VERIFIER.verify(b'{"order": {}, "signature": "\xff"}', cluster_id="thon-3", now=NOW)


@pytest.mark.parametrize(("envelope", "detail"), [
    (b"not json", "not JSON"),
    (b'{"order": {}, "signature": "\xff"}', "not JSON"),
    (b"[]", "envelope is not an object"),
    (b'{"order": {}}', "missing order object or signature string"),
    (b'{"order": {}, "signature": "AA==", "extra": 1}', "unexpected envelope keys"),
])
def test_each_malformed_envelope_says_why_in_vietnamese(envelope: bytes, detail: str) -> None:
    # The agent's log needs the reason; the staff need the Vietnamese sentence naming the two keys.
    with pytest.raises(OrderMalformed) as caught:
        VERIFIER.verify(envelope, cluster_id="thon-3", now=NOW)
    assert (caught.value.detail or "").startswith(detail)
    assert caught.value.message == "Lệnh phát không đúng định dạng (cần JSON có «order» và «signature»)."


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_an_order_are_malformed(number: str) -> None:
    envelope = json.dumps(_signed(_order_fields())).replace('"seq": 7', f'"seq": {number}')
    with pytest.raises(OrderMalformed):
        VERIFIER.verify(envelope, cluster_id="thon-3", now=NOW)
    with pytest.raises(OrderMalformed):
        VERIFIER.verify({"order": _order_fields(volume=float("nan")), "signature": "AA=="},
                        cluster_id="thon-3", now=NOW)


@pytest.mark.parametrize(("field", "value"), [("seq", 7.0), ("audio_size", 48000.0), ("volume", 50.0),
                                               ("seq", "7"), ("seq", True)])
def test_signed_non_integers_are_malformed(field: str, value: Any) -> None:
    # Properly signed, so only the format check can refuse them: an order holds integers, not floats.
    with pytest.raises(OrderMalformed) as caught:
        VERIFIER.verify(_signed(_order_fields(**{field: value})), cluster_id="thon-3", now=NOW)
    assert caught.value.order is None  # not attributable: the model never accepted it


def test_a_verifier_without_keys_is_refused() -> None:
    with pytest.raises(ValueError):
        OrderVerifier([])


def test_an_unknown_key_id_is_a_bad_signature_naming_it() -> None:
    with pytest.raises(OrderBadSignature) as caught:
        VERIFIER.verify(_signed(_order_fields(key_id="feedfeedfeedfeed")), cluster_id="thon-3", now=NOW)
    assert "feedfeedfeedfeed" in (caught.value.detail or "") and caught.value.status == 401


def test_a_signature_of_the_wrong_length_is_a_bad_signature() -> None:
    envelope = _signed(_order_fields()) | {"signature": base64.b64encode(b"short").decode()}
    with pytest.raises(OrderBadSignature):
        VERIFIER.verify(envelope, cluster_id="thon-3", now=NOW)


# --- time boundaries -----------------------------------------------------------------------


def test_an_order_is_valid_up_to_and_including_expires_at() -> None:
    envelope = _signed(_order_fields())
    expires_at = NOW + timedelta(minutes=7)

    assert VERIFIER.verify(envelope, cluster_id="thon-3", now=expires_at).seq == 7
    with pytest.raises(OrderExpired) as caught:
        VERIFIER.verify(envelope, cluster_id="thon-3", now=expires_at + timedelta(microseconds=1))
    assert caught.value.status == 410 and caught.value.order is not None


def test_expires_at_may_equal_play_at_but_not_precede_it() -> None:
    play_at = (NOW + timedelta(minutes=5)).isoformat()
    assert PlayOrder(**_order_fields(expires_at=play_at)).expires_at == NOW + timedelta(minutes=5)
    with pytest.raises(ValidationError, match="expires_at is before play_at"):
        PlayOrder(**_order_fields(expires_at=(NOW + timedelta(minutes=5, microseconds=-1)).isoformat()))


# --- the order's fields --------------------------------------------------------------------


@pytest.mark.parametrize(("field", "good", "bad"), [
    ("seq", 1, 0),
    ("cluster_id", "A" + "a" * 63, "a" * 65),
    ("cluster_id", "9", "-thon"),
    ("airing_id", "a" * 128, "a" * 129),
    ("airing_id", "a", ""),
    ("audio_sha256", "0123456789abcdef" * 4, "AB" * 32),
    ("audio_size", 1, 0),
    ("audio_url", "https://h/" + "a" * 2038, "https://h/" + "a" * 2039),
    ("audio_url", "https://h/a.mp3", "ftp://h/a.mp3"),
    ("key_id", "k" * 64, "k" * 65),
    ("key_id", "k", ""),
    ("volume", 0, -1),
    ("volume", 100, 101),
    ("priority", "emergency", "urgent"),
    ("kind", "stop", "pause"),
])
def test_order_field_bounds(field: str, good: Any, bad: Any) -> None:
    assert getattr(PlayOrder(**_order_fields(**{field: good})), field) == good
    with pytest.raises(ValidationError):
        PlayOrder(**_order_fields(**{field: bad}))


@pytest.mark.parametrize("missing", ["audio_sha256", "audio_size", "audio_url"])
def test_a_play_order_needs_each_piece_of_its_audio(missing: str) -> None:
    with pytest.raises(ValidationError, match="needs audio_sha256"):
        PlayOrder(**_order_fields(**{missing: None}))
    assert PlayOrder(**_order_fields(kind="stop", **{missing: None})).kind is OrderKind.STOP


def test_unknown_order_fields_are_refused_and_orders_are_frozen() -> None:
    with pytest.raises(ValidationError):
        PlayOrder(**_order_fields(extra=1))
    order = PlayOrder(**_order_fields())
    with pytest.raises(ValidationError):
        order.seq = 8  # type: ignore[misc]


def test_wire_names_are_the_protocol() -> None:
    assert [p.value for p in Priority] == ["normal", "priority", "emergency"]
    assert [k.value for k in OrderKind] == ["play", "stop"]
    assert [s.value for s in ReportStage] == ["received", "downloaded", "playing", "played", "failed", "missed",
                                              "refused", "applied"]
    fields = _order_fields()
    del fields["kind"], fields["priority"]
    order = PlayOrder(**fields)
    assert (order.kind, order.priority) == (OrderKind.PLAY, Priority.NORMAL)  # the defaults


def test_error_codes_and_statuses_are_stable() -> None:
    table = {cls: (cls.code, cls.status) for cls in
             (OrderRejected, OrderMalformed, OrderBadSignature, OrderWrongCluster, OrderExpired, OrderReplayed)}
    assert table == {
        OrderRejected: ("order_rejected", 400), OrderMalformed: ("order_malformed", 400),
        OrderBadSignature: ("order_bad_signature", 401), OrderWrongCluster: ("order_wrong_cluster", 403),
        OrderExpired: ("order_expired", 410), OrderReplayed: ("order_replayed", 409),
    }
    assert OrderReplayed("x").duplicate is False
    with pytest.raises(OrderWrongCluster) as wrong:
        VERIFIER.verify(_signed(_order_fields()), cluster_id="thon-4", now=NOW)
    assert wrong.value.order is not None and wrong.value.order.cluster_id == "thon-3"


# --- what agents send back -----------------------------------------------------------------


def _report(**fields: Any) -> dict[str, Any]:
    return {"report_id": str(uuid.uuid4()), "seq": 1, "cluster_id": "thon-3", "stage": "played",
            "at": NOW.isoformat()} | fields


def _heartbeat(**fields: Any) -> dict[str, Any]:
    return {"cluster_id": "thon-3", "at": NOW.isoformat(), "status": "idle", "volume": 80, "version": "1.0",
            "queue_length": 0, "last_seq": 0, "reports_pending": 0} | fields


def _clock(**fields: Any) -> dict[str, Any]:
    return {"offset_ms": 0.0, "rtt_ms": 0.0, "samples": 0} | fields


def _now_playing(**fields: Any) -> dict[str, Any]:
    return {"order_id": str(uuid.uuid4()), "airing_id": "a", "priority": "emergency"} | fields


def _problem(**fields: Any) -> dict[str, Any]:
    return {"code": "storage_full", "message": "Đầy bộ nhớ"} | fields


@pytest.mark.parametrize(("model", "base", "field", "good", "bad"), [
    (AgentReport, _report, "seq", 1, 0),
    (AgentReport, _report, "seq", 4611686018427387904, 4611686018427387905),
    (AgentReport, _report, "order_seq", 1, 0),
    (AgentReport, _report, "order_seq", 2147483647, 2147483648),
    (AgentReport, _report, "airing_id", "a" * 128, "a" * 129),
    (AgentReport, _report, "reason", "a" * 64, "a" * 65),
    (AgentReport, _report, "reason", "preempted.by_emergency-2", "Preempted"),
    (AgentReport, _report, "message", "ư" * 1000, "ư" * 1001),
    (AgentReport, _report, "start_offset_ms", 1e13, 1e13 + 1),
    (AgentReport, _report, "start_offset_ms", -1e13, -1e13 - 1),
    (AgentReport, _report, "start_offset_ms", -12.5, float("nan")),
    (AgentReport, _report, "start_offset_ms", 12.5, float("inf")),
    (AgentReport, _report, "stage", "applied", "paused"),
    (Heartbeat, _heartbeat, "volume", 0, -1),
    (Heartbeat, _heartbeat, "volume", 100, 101),
    (Heartbeat, _heartbeat, "version", "v" * 64, "v" * 65),
    (Heartbeat, _heartbeat, "queue_length", 0, -1),
    (Heartbeat, _heartbeat, "queue_length", 1_000_000, 1_000_001),
    (Heartbeat, _heartbeat, "last_seq", 0, -1),
    (Heartbeat, _heartbeat, "last_seq", 2147483647, 2147483648),
    (Heartbeat, _heartbeat, "reports_pending", 0, -1),
    (Heartbeat, _heartbeat, "reports_pending", 4611686018427387904, 4611686018427387905),
    (Heartbeat, _heartbeat, "free_disk_bytes", 0, -1),
    (Heartbeat, _heartbeat, "free_disk_bytes", 4611686018427387904, 4611686018427387905),
    (Heartbeat, _heartbeat, "status", "playing", "sleeping"),
    (Heartbeat, _heartbeat, "health", "degraded", "sick"),
    (Heartbeat, _heartbeat, "transport", "mqtt", "carrier-pigeon"),
    (Heartbeat, _heartbeat, "transport", "http", "ftp"),
    (Heartbeat, _heartbeat, "transport", "pull", "push"),
    (Heartbeat, _heartbeat, "cluster_id", "thon-9", "thon 9"),
    (ClockEstimate, _clock, "offset_ms", -1e13, -1e13 - 1),
    (ClockEstimate, _clock, "offset_ms", 1e13, float("nan")),
    (ClockEstimate, _clock, "rtt_ms", 0.0, -0.5),
    (ClockEstimate, _clock, "rtt_ms", 1e7, 1e7 + 1),
    (ClockEstimate, _clock, "rtt_ms", 5.0, float("inf")),
    (ClockEstimate, _clock, "samples", 0, -1),
    (ClockEstimate, _clock, "samples", 1_000_000, 1_000_001),
    (NowPlaying, _now_playing, "airing_id", "a" * 128, "a" * 129),
    (AgentProblem, _problem, "code", "c" * 64, "c" * 65),
    (AgentProblem, _problem, "code", "disk_space_low", "disk-space"),
    (AgentProblem, _problem, "message", "m" * 500, "m" * 501),
])
def test_agent_input_bounds(model: type[BaseModel], base: Any, field: str, good: Any, bad: Any) -> None:
    assert getattr(model.model_validate(base(**{field: good})), field) == good
    with pytest.raises(ValidationError):
        model.model_validate(base(**{field: bad}))


def test_heartbeat_problem_list_is_bounded_and_defaults_are_healthy() -> None:
    ten = [_problem()] * 10
    assert len(Heartbeat.model_validate(_heartbeat(problems=ten)).problems) == 10
    with pytest.raises(ValidationError):
        Heartbeat.model_validate(_heartbeat(problems=ten + [_problem()]))
    beat = Heartbeat.model_validate(_heartbeat())
    assert (beat.health, beat.problems, beat.free_disk_bytes, beat.transport, beat.clock) == ("ok", [], None, None,
                                                                                            None)


@pytest.mark.parametrize("model", [AgentReport, Heartbeat, ClockEstimate, NowPlaying, AgentProblem])
def test_agents_cannot_add_fields(model: type[BaseModel]) -> None:
    base = {AgentReport: _report, Heartbeat: _heartbeat, ClockEstimate: _clock, NowPlaying: _now_playing,
            AgentProblem: _problem}[model]
    with pytest.raises(ValidationError):
        model.model_validate(base(smuggled="x"))
