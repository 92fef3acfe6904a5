"""Audio download ahead of play time: resumable, checked, content-addressed.

A file is fetched into ``<sha256>.part``; an interrupted transfer (link drop, reboot, kill -9)
resumes with ``Range: bytes=<part size>-``. Only when the whole file has exactly the ordered
size and sha256 is it renamed to ``<sha256>.audio`` and counted as ready; a mismatch deletes it,
so audio nobody checked can never reach the horns.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections import defaultdict
from pathlib import Path

import httpx

from broadcaster.agent.retry import Backoff
from broadcaster.errors import InvalidInput, ServiceFailure
from broadcaster.hashing import file_sha256
from broadcaster.private_files import open_private, private_dir

log = logging.getLogger(__name__)


class AudioMismatch(InvalidInput):
    """The downloaded audio is not what the order promised (size or sha256)."""

    code = "audio_checksum_mismatch"


class DownloadFailed(ServiceFailure):
    """The audio could not be fetched before the order's deadline."""

    code = "audio_download_failed"


class _Transient(Exception):
    """A failure worth retrying (server error, odd answer)."""


class AudioFetcher:
    """Downloads audio into ``audio_dir`` and hands out only checked files."""

    def __init__(self, audio_dir: Path, client: httpx.AsyncClient, backoff: Backoff) -> None:
        private_dir(audio_dir)
        self._dir = audio_dir
        self._client = client
        self._backoff = backoff
        # Two orders for the same programme share one file: one download at a time per hash.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.storage_error: str | None = None  # the last download could not be written (disk full)

    def ready_path(self, sha256: str) -> Path:
        """Where checked audio with this hash lives."""
        return self._dir / f"{sha256}.audio"

    def part_path(self, sha256: str) -> Path:
        """Where a download in progress accumulates."""
        return self._dir / f"{sha256}.part"

    async def fetch(self, url: str, sha256: str, size: int, *, deadline: float) -> Path:
        """The checked file for ``sha256``, downloading (with retries until ``deadline``) if needed.

        Raises ``AudioMismatch`` if the server's bytes are not the ordered ones, ``DownloadFailed``
        if no attempt succeeded before ``deadline`` (Unix time).
        """
        async with self._locks[sha256]:
            ready = self.ready_path(sha256)
            if ready.exists():
                if await asyncio.to_thread(file_sha256, ready) == sha256:
                    return ready
                log.warning("stored audio %s was corrupted on disk; fetching again", sha256[:12])
                ready.unlink()
            delays = self._backoff.delays()
            fresh_retry_left = True
            while True:
                try:
                    resumed = await self._attempt(url, sha256, size)
                except (httpx.HTTPError, OSError, _Transient) as error:
                    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                        self.storage_error = str(error)  # the heartbeat says so (agent.health)
                    delay = next(delays)
                    if time.time() + delay > deadline:
                        raise DownloadFailed(
                            "Không tải được âm thanh trước hạn phát.", detail=f"{url}: {error!r}"
                        ) from None
                    log.info("download of %s failed (%r); retrying in %.1f s", url, error, delay)
                    await asyncio.sleep(delay)
                    continue
                try:
                    await self._check(sha256, size)
                except AudioMismatch:
                    # A resumed file may hold a stale or damaged prefix: one clean try before blaming the server.
                    if resumed and fresh_retry_left:
                        fresh_retry_left = False
                        log.warning("resumed download of %s did not check out; starting over", sha256[:12])
                        continue
                    raise
                self.part_path(sha256).replace(ready)
                self.storage_error = None
                return ready

    async def _attempt(self, url: str, sha256: str, size: int) -> bool:
        """One GET (ranged if a part exists); returns whether it resumed a partial file."""
        part = self.part_path(sha256)
        offset = part.stat().st_size if part.exists() else 0
        if offset > size:
            part.unlink()
            offset = 0
        if offset == size:
            return True
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        async with self._client.stream("GET", url, headers=headers) as response:
            resumed = offset > 0 and response.status_code == 206
            if resumed:
                if _content_range_start(response.headers.get("content-range")) != offset:
                    part.unlink()
                    raise _Transient(f"Content-Range {response.headers.get('content-range')!r} != {offset}")
                mode = "ab"
            elif response.status_code == 200:
                offset, mode = 0, "wb"
            elif response.status_code == 416:
                part.unlink(missing_ok=True)
                raise _Transient("416: partial file no longer matches")
            else:
                raise _Transient(f"HTTP {response.status_code}")
            with os.fdopen(open_private(part, mode), mode) as out:
                async for chunk in response.aiter_raw():
                    offset += len(chunk)
                    if offset > size:
                        out.close()
                        part.unlink()
                        raise AudioMismatch(
                            "Tệp âm thanh lớn hơn kích thước trong lệnh phát; đã hủy.",
                            code="audio_size_mismatch", detail=f"more than {size} bytes from {url}",
                        )
                    out.write(chunk)
                    out.flush()  # what arrived survives a kill: the next attempt resumes from it
        return resumed

    async def _check(self, sha256: str, size: int) -> None:
        part = self.part_path(sha256)
        actual_size = part.stat().st_size
        if actual_size != size:
            part.unlink()
            raise AudioMismatch(
                "Tệp âm thanh tải về không đúng kích thước trong lệnh phát; đã hủy.",
                code="audio_size_mismatch", detail=f"{actual_size} bytes, ordered {size}",
            )
        actual = await asyncio.to_thread(file_sha256, part)
        if actual != sha256:
            part.unlink()
            raise AudioMismatch(
                "Tệp âm thanh tải về không khớp mã kiểm tra sha256; đã hủy, không phát.",
                detail=f"sha256 {actual}, ordered {sha256}",
            )

    def discard_unused(self, in_use: set[str]) -> None:
        """Delete audio (and partial downloads) no active order needs: keep the SD card from filling."""
        for path in self._dir.iterdir():
            digest = path.name.split(".", 1)[0]
            lock = self._locks.get(digest)
            if digest not in in_use and not (lock is not None and lock.locked()):
                path.unlink(missing_ok=True)


def _content_range_start(value: str | None) -> int | None:
    # "bytes 1234-5677/5678"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None
