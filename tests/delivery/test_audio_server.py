"""``/audio/<sha256>.mp3`` on the real app under uvicorn: ETag, Range, If-Range, HEAD, 304, 404, caching."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broadcaster.db import Database
from broadcaster.speech import RenderedAudio
from tests.agent.harness import free_port
from tests.e2e.harness import InProcessServer, delivery_settings

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, RenderedAudio, bytes]]:
    """A running app and one programme in its audio cache (real espeak-ng, real ffmpeg)."""
    root: Path = tmp_path_factory.mktemp("audio")
    port = free_port()
    settings = delivery_settings(root, port, handoff="record")
    Database(settings.effective_database_url).upgrade()
    server = InProcessServer(settings, port).start()
    try:  # a set-up that fails stops the server
        audio = server.runtime.speech.render_text("Loa phát thanh xã thông báo lịch tiêm chủng.")
        yield server, audio, audio.path.read_bytes()
    finally:
        server.stop()


def get(server: InProcessServer, name: str, **headers: str) -> httpx.Response:
    """GET /audio/<name> over real HTTP."""
    return httpx.get(f"{server.url}/audio/{name}", headers=headers, timeout=10)


def test_whole_file_with_strong_etag_and_immutable_caching(served: tuple[InProcessServer, RenderedAudio, bytes]) -> None:
    server, audio, data = served
    response = get(server, f"{audio.sha256}.mp3")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == audio.sha256
    assert response.headers["etag"] == f'"{audio.sha256}"'
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "audio/mpeg"
    assert int(response.headers["content-length"]) == len(data) == audio.size


def test_range_gives_206_with_the_exact_bytes(served: tuple[InProcessServer, RenderedAudio, bytes]) -> None:
    server, audio, data = served
    middle = get(server, f"{audio.sha256}.mp3", Range="bytes=100-199")
    assert middle.status_code == 206
    assert middle.content == data[100:200]
    assert middle.headers["content-range"] == f"bytes 100-199/{len(data)}"
    resume = get(server, f"{audio.sha256}.mp3", Range=f"bytes={len(data) - 1000}-")  # what a resuming agent asks
    assert resume.status_code == 206 and resume.content == data[-1000:]
    assert get(server, f"{audio.sha256}.mp3", Range=f"bytes={len(data) + 10}-").status_code == 416


def test_if_range_honours_the_etag(served: tuple[InProcessServer, RenderedAudio, bytes]) -> None:
    server, audio, data = served
    same = get(server, f"{audio.sha256}.mp3", Range="bytes=0-9", **{"If-Range": f'"{audio.sha256}"'})
    assert same.status_code == 206 and same.content == data[:10]
    changed = get(server, f"{audio.sha256}.mp3", Range="bytes=0-9", **{"If-Range": '"' + "0" * 64 + '"'})
    assert changed.status_code == 200 and changed.content == data  # not the same file: all of it


def test_head_and_conditional_get(served: tuple[InProcessServer, RenderedAudio, bytes]) -> None:
    server, audio, data = served
    head = httpx.head(f"{server.url}/audio/{audio.sha256}.mp3", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(data)
    assert head.headers["etag"] == f'"{audio.sha256}"'
    unchanged = get(server, f"{audio.sha256}.mp3", **{"If-None-Match": f'"{audio.sha256}"'})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize("name", [
    "0" * 64 + ".mp3",  # well formed, unknown
    "abc.mp3", "{sha}.exe", "{sha}.ogg", "{sha_upper}.mp3", "{sha}", "..%2F..%2Fdata%2Fkeys.mp3", "{sha}.mp3.bak",
])
def test_unknown_or_malformed_names_are_404(served: tuple[InProcessServer, RenderedAudio, bytes], name: str) -> None:
    server, audio, _data = served
    response = get(server, name.format(sha=audio.sha256, sha_upper=audio.sha256.upper()))
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("audio_not_found", "not_found")
