"""Cache keys: stable, covering everything that changes the sound, NFC-normalized; bad keys refused."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from broadcaster.audio.render import RenderOptions
from broadcaster.cache import AudioCache, InvalidCacheKey, cache_key, upload_cache_key
from broadcaster.tts.base import SynthesisOptions
from tests.cache.support import Producer


def test_key_is_stable_and_covers_everything_that_changes_the_sound() -> None:
    base = cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions())
    assert base == cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions())
    variants = {
        cache_key("Xin chào!", "espeak", SynthesisOptions(), RenderOptions()),
        cache_key("Xin chào", "gtts", SynthesisOptions(), RenderOptions()),
        cache_key("Xin chào", "espeak", SynthesisOptions(voice="vi+f2"), RenderOptions()),
        cache_key("Xin chào", "espeak", SynthesisOptions(rate=1.2), RenderOptions()),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(repeat=2)),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(chime=False)),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(), voice="vi+m3"),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(), lexicon="a" * 64),
    }
    assert base not in variants and len(variants) == 8


def test_key_normalizes_text_to_nfc() -> None:
    composed = unicodedata.normalize("NFC", "Thông báo về lũ lụt")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert cache_key(composed, "espeak", SynthesisOptions(), RenderOptions()) == cache_key(
        decomposed, "espeak", SynthesisOptions(), RenderOptions()
    )


def test_upload_key_covers_the_upload_and_render_options() -> None:
    sha = hashlib.sha256(b"recording").hexdigest()
    key = upload_cache_key(sha, RenderOptions())
    assert len(key) == 64
    assert key == upload_cache_key(sha.upper(), RenderOptions())
    assert key != upload_cache_key(hashlib.sha256(b"other").hexdigest(), RenderOptions())
    assert key != upload_cache_key(sha, RenderOptions(repeat=3))


def test_bad_keys_are_refused(cache: AudioCache) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "abc", ""):
        with pytest.raises(InvalidCacheKey):
            cache.get_or_create(bad, Producer())
