"""Cache keys: the sha256 of canonical JSON over everything that decides the sound, and the names built on them.

A key is 64 lowercase hex digits; every file name in the cache directory is checked against the
regexes here, so nothing outside them is ever read, served or deleted as an entry.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from broadcaster.audio.codec import ENCODINGS
from broadcaster.audio.render import RENDER_VERSION, RenderOptions
from broadcaster.errors import InvalidInput
from broadcaster.tts.base import SynthesisOptions

KEY = re.compile(r"^[0-9a-f]{64}$")
AUDIO_NAME = re.compile(r"^(?P<key>[0-9a-f]{64})\.(?P<fmt>" + "|".join(ENCODINGS) + r")$")
SIDECAR_NAME = re.compile(r"^(?P<key>[0-9a-f]{64})\.json$")


class InvalidCacheKey(InvalidInput):
    """A cache key must be 64 lowercase hex digits."""

    code = "cache_invalid_key"


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes for hashing: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cache_key(
    text: str,
    engine: str,
    synthesis: SynthesisOptions,
    render: RenderOptions,
    *,
    voice: str | None = None,
    voice_identity: Mapping[str, str] | None = None,
    lexicon: str | None = None,
) -> str:
    """The key of spoken text: sha256 over NFC text, engine, voice and options, render options and version.

    ``voice`` (the engine's resolved default) replaces ``synthesis.voice`` in the key when given, so
    that a changed default voice does not serve audio spoken by the old one. ``voice_identity`` (the
    hashes of an operator-supplied voice's files) makes a replaced voice file render afresh.
    ``lexicon`` is the fingerprint of the lexicon entries the bulletin uses (``Lexicon.fingerprint``):
    a changed entry of the commune's lexicon makes a new key for the bulletins that contain it.
    """
    fields = synthesis.cache_fields()
    if voice is not None:
        fields = {**fields, "voice": voice}
    material = {
        "kind": "speech",
        "text": unicodedata.normalize("NFC", text),
        "engine": engine,
        "synthesis": fields,
        "render": render.cache_fields(),
        "render_version": RENDER_VERSION,
    }
    if voice_identity:
        # Only present for engines that have one, so the keys of the others stay what they were.
        material["voice_identity"] = dict(voice_identity)
    if lexicon is not None:
        material["lexicon"] = lexicon
    return hashlib.sha256(canonical_json(material)).hexdigest()


def upload_cache_key(upload_sha256: str, render: RenderOptions) -> str:
    """The key of an uploaded recording: sha256 over the upload's sha256, render options and version."""
    material = {
        "kind": "upload",
        "upload_sha256": upload_sha256.lower(),
        "render": render.cache_fields(),
        "render_version": RENDER_VERSION,
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


def check_key(key: str) -> None:
    """Refuse anything but 64 lowercase hex digits, so a key can never name a path outside the cache."""
    if not isinstance(key, str) or not KEY.match(key):
        raise InvalidCacheKey("Mã bộ nhớ đệm không hợp lệ (cần 64 chữ số hex).", detail=f"bad cache key {key!r}")
