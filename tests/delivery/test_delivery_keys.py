"""The server's signing key file, public key export, and the agents' Ed25519 request signatures."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from broadcaster.delivery.agent_auth import (
    AgentRequestUnauthenticated,
    agent_public_key,
    agent_signing_key,
    broker_password,
    generate_agent_secret,
    request_cluster,
    sign_agent_request,
    verify_agent_request,
)
from broadcaster.delivery.keys import (
    InvalidPublicKey,
    SigningKeyError,
    SigningKeyInsecure,
    key_id_of,
    load_or_create_signing_key,
    load_public_key,
    public_key_base64,
    public_key_pem,
    signing_key_path,
)
from broadcaster.delivery.mosquitto import password_hash, password_matches


def test_key_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path)
    second = load_or_create_signing_key(tmp_path)
    path = signing_key_path(tmp_path)

    assert key_id_of(first.public_key()) == key_id_of(second.public_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_or_create_signing_key(tmp_path)
    signing_key_path(tmp_path).chmod(0o644)

    with pytest.raises(SigningKeyInsecure) as caught:
        load_or_create_signing_key(tmp_path)
    assert "chmod 600" in caught.value.message


def test_a_corrupt_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = signing_key_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("not a key")
    path.chmod(0o600)

    with pytest.raises(SigningKeyError) as caught:
        load_or_create_signing_key(tmp_path)
    assert caught.value.code == "signing_key_unreadable"


def test_public_key_exports_load_back(tmp_path: Path) -> None:
    public = load_or_create_signing_key(tmp_path).public_key()

    for text in (public_key_base64(public), public_key_pem(public)):
        assert key_id_of(load_public_key(text)) == key_id_of(public)
    assert len(key_id_of(public)) == 16


@pytest.mark.parametrize("text", ["", "AAAA", "not base64!", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"])
def test_bad_public_keys_are_refused(text: str) -> None:
    with pytest.raises(InvalidPublicKey):
        load_public_key(text)


def test_agent_request_signature_round_trip() -> None:
    secret = generate_agent_secret()
    public = load_public_key(agent_public_key(secret))
    body = b'[{"stage":"played"}]'
    now_ms = int(time.time() * 1000)
    headers = sign_agent_request(agent_signing_key(secret), "thon-3", "reports", body, timestamp_ms=now_ms)
    lowercase = {k.lower(): v for k, v in headers.items()}

    assert request_cluster(lowercase) == "thon-3"
    assert verify_agent_request(public, "reports", body, headers, now=now_ms / 1000 + 10) == now_ms
    verify_agent_request(public, "reports", body, lowercase, now=now_ms / 1000)


@pytest.mark.parametrize("change", ["body", "key", "purpose", "stale", "missing", "garbage timestamp"])
def test_agent_request_signature_refusals(change: str) -> None:
    secret, body, now = "s3cret", b"[]", 1_750_000_000
    public, purpose = load_public_key(agent_public_key(secret)), "heartbeat"
    headers = sign_agent_request(agent_signing_key(secret), "thon-3", purpose, body, timestamp_ms=now * 1000)
    if change == "body":
        body = b"[{}]"
    elif change == "key":
        public = load_public_key(agent_public_key("other"))
    elif change == "purpose":
        purpose = "reports"  # a heartbeat's signature replayed to another endpoint
    elif change == "stale":
        now += 600
    elif change == "missing":
        headers = {}
    else:
        headers["X-Broadcaster-Timestamp"] = "1e99"

    with pytest.raises(AgentRequestUnauthenticated) as caught:
        verify_agent_request(public, purpose, body, headers, now=now)
    assert caught.value.status == 401


def test_what_the_server_stores_cannot_sign_or_log_in_as_the_agent() -> None:
    # A read-only leak of the clusters table yields the public key and the broker password hash:
    # neither is the secret, and neither signs a request the server would take.
    secret = generate_agent_secret()
    stored_key, stored_hash = agent_public_key(secret), password_hash(broker_password(secret))
    assert secret not in stored_key and secret not in stored_hash
    assert password_matches(broker_password(secret), stored_hash)
    assert not password_matches(stored_hash, stored_hash) and not password_matches(secret, stored_hash)
    forged = sign_agent_request(agent_signing_key(stored_key), "3", "reports", b"[]", timestamp_ms=1_750_000_000_000)
    with pytest.raises(AgentRequestUnauthenticated):
        verify_agent_request(load_public_key(stored_key), "reports", b"[]", forged, now=1_750_000_000)
