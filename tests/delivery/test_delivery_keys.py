"""The server's signing key file, public key export, and the agents' HMAC request signatures."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from broadcaster.delivery.keys import (
    AgentRequestUnauthenticated,
    InvalidPublicKey,
    SigningKeyError,
    SigningKeyInsecure,
    generate_cluster_secret,
    key_id_of,
    load_or_create_signing_key,
    load_public_key,
    public_key_base64,
    public_key_pem,
    request_cluster,
    sign_agent_request,
    signing_key_path,
    verify_agent_request,
)


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
    secret = generate_cluster_secret()
    body = b'[{"stage":"played"}]'
    now = int(time.time())
    headers = sign_agent_request(secret, "thon-3", body, timestamp=now)
    lowercase = {k.lower(): v for k, v in headers.items()}

    assert request_cluster(lowercase) == "thon-3"
    verify_agent_request(secret, body, headers, now=now + 10)
    verify_agent_request(secret, body, lowercase, now=now)


@pytest.mark.parametrize("change", ["body", "secret", "stale", "missing"])
def test_agent_request_signature_refusals(change: str) -> None:
    secret, body, now = "s3cret", b"[]", 1_750_000_000
    headers = sign_agent_request(secret, "thon-3", body, timestamp=now)
    if change == "body":
        body = b"[{}]"
    elif change == "secret":
        secret = "other"
    elif change == "stale":
        now += 600
    else:
        headers = {}

    with pytest.raises(AgentRequestUnauthenticated) as caught:
        verify_agent_request(secret, body, headers, now=now)
    assert caught.value.status == 401
