"""How an agent proves who it is: its own Ed25519 key, of which the server keeps only the public half.

A cluster's credential is one random secret (``generate_agent_secret``) that ``broadcaster
speaker config`` prints once and the box keeps in its configuration. From it the agent derives
(HKDF-SHA256, one ``info`` label each) its request-signing Ed25519 key and its MQTT password.
The server stores the public key and, for the broker, a PBKDF2 hash of the password: someone who
reads the database (a leaked backup, a read-only SQL injection) can neither sign a report as the
cluster nor log in to the broker as it.

Every agent request carries::

    X-Broadcaster-Cluster:   the cluster id on the wire
    X-Broadcaster-Timestamp: milliseconds since the epoch, in *server* time as the agent estimates it
    X-Broadcaster-Signature: ed25519=<base64 signature of "<purpose>\\n<timestamp>\\n" + body>

``purpose`` names the endpoint (``reports``, ``heartbeat``, ``pull``), so a body signed for one
cannot be replayed to another. The server refuses timestamps more than five minutes off; it also
refuses a heartbeat or a poll that is not newer than the cluster's last one (replays inside the
window), and dedupes reports by ``report_id``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from broadcaster.delivery.keys import public_key_base64
from broadcaster.errors import NotAuthenticated

CLUSTER_HEADER = "X-Broadcaster-Cluster"
TIMESTAMP_HEADER = "X-Broadcaster-Timestamp"
SIGNATURE_HEADER = "X-Broadcaster-Signature"
DEFAULT_TOLERANCE_S = 300
_SIGNING_INFO = b"broadcaster agent request signing v1"
_BROKER_INFO = b"broadcaster agent mqtt password v1"


class AgentRequestUnauthenticated(NotAuthenticated):
    """An agent request whose signature, timestamp or cluster header does not check out."""

    code = "agent_unauthenticated"


class AgentRequestReplayed(AgentRequestUnauthenticated):
    """A validly signed request that is not newer than the last one of its kind: a replay."""

    code = "agent_request_replayed"


def generate_agent_secret() -> str:
    """A fresh cluster credential (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode("utf-8"))


def agent_signing_key(secret: str) -> Ed25519PrivateKey:
    """The agent's request-signing key, derived from its secret."""
    return Ed25519PrivateKey.from_private_bytes(_derive(secret, _SIGNING_INFO))


def agent_public_key(secret: str) -> str:
    """What the server stores for a cluster: the base64 public half of its signing key."""
    return public_key_base64(agent_signing_key(secret).public_key())


def broker_password(secret: str) -> str:
    """The agent's MQTT password, derived from its secret (the broker keeps only a hash of it)."""
    return base64.urlsafe_b64encode(_derive(secret, _BROKER_INFO)).decode("ascii").rstrip("=")


def _message(purpose: str, timestamp_ms: int, body: bytes) -> bytes:
    return f"{purpose}\n{timestamp_ms}\n".encode() + body


def sign_agent_request(key: Ed25519PrivateKey, cluster_id: str, purpose: str, body: bytes, *,
                       timestamp_ms: int) -> dict[str, str]:
    """The headers that authenticate ``body`` as sent by ``cluster_id`` for ``purpose`` at ``timestamp_ms``."""
    signature = key.sign(_message(purpose, timestamp_ms, body))
    return {CLUSTER_HEADER: cluster_id, TIMESTAMP_HEADER: str(timestamp_ms),
            SIGNATURE_HEADER: "ed25519=" + base64.b64encode(signature).decode("ascii")}


def request_cluster(headers: Mapping[str, str]) -> str:
    """The cluster an agent request claims to come from (check it with ``verify_agent_request``)."""
    cluster = _header(headers, CLUSTER_HEADER)
    if not cluster:
        raise AgentRequestUnauthenticated("Yêu cầu của cụm loa thiếu mã cụm loa.", detail="no cluster header")
    return cluster


def verify_agent_request(public_key: Ed25519PublicKey, purpose: str, body: bytes, headers: Mapping[str, str], *,
                         now: float, tolerance_s: int = DEFAULT_TOLERANCE_S) -> int:
    """The request's timestamp (ms) if ``headers`` carry a fresh signature of ``body``; raise otherwise."""
    refused = "Yêu cầu của cụm loa không xác thực được (sai khóa hoặc sai giờ)."
    text = _header(headers, TIMESTAMP_HEADER)
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise AgentRequestUnauthenticated(refused, detail="missing or bad timestamp")
    timestamp_ms = int(text)
    if abs(now - timestamp_ms / 1000) > tolerance_s:
        raise AgentRequestUnauthenticated(
            refused, code="agent_clock_skew", detail=f"timestamp {timestamp_ms} is {now - timestamp_ms / 1000:.0f} s off")
    given = _header(headers, SIGNATURE_HEADER)
    try:
        if not given.startswith("ed25519="):
            raise ValueError("not an ed25519 signature")
        public_key.verify(base64.b64decode(given.removeprefix("ed25519="), validate=True),
                          _message(purpose, timestamp_ms, body))
    except (InvalidSignature, ValueError, binascii.Error):
        raise AgentRequestUnauthenticated(refused, detail="signature mismatch") from None
    return timestamp_ms


def _header(headers: Mapping[str, str], name: str) -> str:
    # Header maps differ in case handling (dict vs. Starlette vs. email.Message): look both ways.
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value)
