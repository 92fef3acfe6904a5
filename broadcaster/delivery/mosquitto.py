"""Mosquitto's own file formats: password hashes (``$7$``, PBKDF2-SHA512) as ``mosquitto_passwd`` writes them,
the password file and the ACL file.

Each cluster's user may read only its own orders topic and write only its own status topic; the
server's user writes every orders topic and reads every status topic. Mosquitto reads both files
at start and again on SIGHUP (``broadcaster broker files`` then ``systemctl reload mosquitto``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from broadcaster.delivery.mqtt_topics import orders_topic, status_topic

PBKDF2_ITERATIONS = 101  # mosquitto_passwd 2.0's default for sha512-pbkdf2
_SALT_BYTES = 12


def password_hash(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$<iterations>$<salt>$<hash>`` form Mosquitto 2 checks passwords against."""
    salt = salt or secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (what the broker will decide)."""
    try:
        _empty, kind, iterations, salt, _digest = stored.split("$")
        expected = password_hash(password, iterations=int(iterations), salt=base64.b64decode(salt))
    except ValueError:
        return False
    return kind == "7" and secrets.compare_digest(expected, stored)


@dataclass(frozen=True)
class BrokerUser:
    """One line of the password file and its ACL block: a cluster (with its id) or the server (cluster None)."""

    username: str
    password_hash: str
    cluster_id: str | None = None


def password_file(users: Iterable[BrokerUser]) -> str:
    """The ``password_file`` Mosquitto reads: ``user:$7$...`` lines (users without a hash left out)."""
    return "".join(f"{user.username}:{user.password_hash}\n" for user in users if user.password_hash)


def acl_file(users: Iterable[BrokerUser], prefix: str) -> str:
    """The ``acl_file``: the server writes orders and reads presence; a cluster only its own two topics."""
    blocks = ["# Written by `broadcaster broker files`; edits are overwritten.\n"]
    for user in users:
        if user.cluster_id is None:
            blocks.append(f"user {user.username}\ntopic write {orders_topic(prefix, '+')}\n"
                          f"topic read {status_topic(prefix, '+')}\n")
        else:
            blocks.append(f"user {user.username}\ntopic read {orders_topic(prefix, user.cluster_id)}\n"
                          f"topic write {status_topic(prefix, user.cluster_id)}\n")
    return "\n".join(blocks)


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (the broker runs as that user or root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)
