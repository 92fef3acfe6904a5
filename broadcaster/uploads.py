"""Uploaded recordings, stored once under data_dir/uploads/<sha256>.

An upload is streamed to a temporary file while it is hashed and counted (never held whole in
memory), refused as soon as it passes the size cap, decoded once with ffmpeg to prove it is audio,
then renamed into place. The rename is atomic and the file and directory are fsynced, so a stored
upload that a bulletin names survives a crash right after the API acknowledges it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from broadcaster.audio.codec import AudioTooLarge, decode_audio
from broadcaster.private_files import private_dir

CHUNK_BYTES = 1024 * 1024
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredUpload:
    """A recording stored under its content hash."""

    sha256: str
    size: int
    path: Path
    duration_s: float


class UploadStore:
    """The directory of uploaded recordings, with the caps that protect it."""

    def __init__(self, directory: Path, *, max_bytes: int, max_duration_s: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_duration_s = max_duration_s

    def path_for(self, sha256: str) -> Path | None:
        """The stored file of ``sha256``, or None if there is none (or the hash is malformed)."""
        if not SHA256_PATTERN.match(sha256):
            return None
        path = self.directory / sha256
        return path if path.is_file() else None

    def save(self, stream: BinaryIO) -> StoredUpload:
        """Stream ``stream`` in, check size and decodability, and store it; raises InvalidInput subclasses."""
        private_dir(self.directory)  # recordings of drafts; mkstemp makes the files 0600
        digest = hashlib.sha256()
        size = 0
        descriptor, name = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        temp_path = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                while chunk := stream.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise AudioTooLarge(
                            f"Tệp âm thanh quá lớn; giới hạn là {self.max_bytes / 1e6:.0f} MB.",
                            detail=f"more than {self.max_bytes} bytes",
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            pcm = decode_audio(temp_path, max_bytes=self.max_bytes, max_duration_s=self.max_duration_s)
            final = self.directory / digest.hexdigest()
            os.replace(temp_path, final)
            _fsync_directory(self.directory)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
        return StoredUpload(sha256=digest.hexdigest(), size=size, path=final, duration_s=pcm.duration_s)


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk too.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
