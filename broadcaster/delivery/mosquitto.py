"""Mosquitto's own file formats: password hashes (``$7$``, PBKDF2-SHA512) as ``mosquitto_passwd`` writes them."""

from __future__ import annotations

import base64
import hashlib
import secrets

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
