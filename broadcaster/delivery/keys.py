"""The server's order-signing key pair: created, stored, exported, loaded.

The Ed25519 private key lives in one PEM file (PKCS#8, mode 0600, in a 0700 folder under the
data dir), never in the database or a log. It is generated on first use; the public key is
exported as base64 (raw 32 bytes) or PEM for the agents' configuration.

What agents send is authenticated by their own keys: ``broadcaster.delivery.agent_auth``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from broadcaster.errors import InvalidInput, ServiceFailure
from broadcaster.private_files import private_dir

SIGNING_KEY_FILENAME = "order-signing-key.pem"


class SigningKeyError(ServiceFailure):
    """The server's signing key file cannot be read or written."""

    code = "signing_key_unreadable"


class SigningKeyInsecure(SigningKeyError):
    """The key file can be read by other users: refuse it rather than sign with a leaked key."""

    code = "signing_key_insecure"


class InvalidPublicKey(InvalidInput):
    """Text that is not an Ed25519 public key in base64 or PEM."""

    code = "public_key_invalid"


def signing_key_path(data_dir: Path) -> Path:
    """Where the server keeps its private key under ``data_dir``."""
    return data_dir / "keys" / SIGNING_KEY_FILENAME


def load_or_create_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The server's private key, generated (0600) on first use."""
    path = signing_key_path(data_dir)
    if not path.exists():
        _create_signing_key(path)
    return load_signing_key(path)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM private key, refusing files that group or others may read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyInsecure(
                f"Tệp khóa ký {path.name} để người khác đọc được; đặt quyền 600 (chmod 600) rồi chạy lại.",
                detail=f"{path} mode {oct(mode & 0o777)}",
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise SigningKeyError(f"Không đọc được tệp khóa ký {path.name}.", detail=str(error)) from None
    except ValueError as error:
        raise SigningKeyError(f"Tệp khóa ký {path.name} bị hỏng.", detail=str(error)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"Tệp khóa ký {path.name} không phải khóa Ed25519.", detail=type(key).__name__)
    return key


def _create_signing_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        private_dir(path.parent)
        # mkstemp creates the file 0600 from the start, so the key is never readable by others;
        # link() publishes it atomically and fails if another process won the race.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            # FileExistsError: another process created it first, and theirs is the key.
            with contextlib.suppress(FileExistsError):
                os.link(temp_name, path)
        finally:
            os.unlink(temp_name)
    except OSError as error:
        raise SigningKeyError("Không tạo được tệp khóa ký.", detail=f"{path}: {error}") from None


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short stable name of a public key: the first 16 hex digits of sha256 of its raw bytes."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def public_key_base64(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64: one line for a config file."""
    return base64.b64encode(_raw(public_key)).decode("ascii")


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    """Parse a public key given as base64 (raw 32 bytes) or PEM."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
            if isinstance(key, Ed25519PublicKey):
                return key
            raise ValueError(f"not Ed25519 but {type(key).__name__}")
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, UnicodeEncodeError) as error:
        raise InvalidPublicKey(
            "Khóa công khai của máy chủ không hợp lệ (cần Ed25519 dạng base64 hoặc PEM).", detail=str(error)
        ) from None


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
