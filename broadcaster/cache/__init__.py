"""The content-addressed audio store: one rendering per distinct input, kept on disk, found by hash.

Layout of the cache directory (flat, every name checked by a regex)::

    <key>.mp3        the encoded audio (or .ogg / .wav)
    <key>.json       its sidecar: provenance, loudness, sha256 and size of the audio; written last,
                     so its presence is the commit marker of the entry
    pins.json        which entries pending airings hold (survives restarts)
    .tmp-*           files being written; left-overs of a crash are removed at start-up

Modules: ``keys`` (what a key hashes, and the name regexes), ``files`` (atomic writes, the pins
file, the start-up scan), ``entry`` (``CacheEntry`` and its sidecar, checked on every read),
``store`` (``AudioCache``: index, single flight, pins, LRU eviction).
"""

from broadcaster.cache.entry import CacheEntry
from broadcaster.cache.keys import InvalidCacheKey, cache_key, canonical_json, check_key, upload_cache_key
from broadcaster.cache.store import AudioCache

__all__ = ["AudioCache", "CacheEntry", "InvalidCacheKey", "cache_key", "canonical_json", "check_key",
           "upload_cache_key"]
