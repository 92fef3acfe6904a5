"""What never serving damaged audio costs: the first serve (hashed), later serves (a stat), a scrub, a repair.

Run: .venv/bin/python bench/audio_verify.py   (writes bench/results/audio_verify.json)

A 15-minute session programme at 64 kbit/s is about 7 MB. Measured through the real ``AudioCache``
and ``AudioFiles`` (what ``/audio`` uses):

- ``first_serve_ms``: the first request after start-up (or after the file changed) hashes the file;
- ``later_serve_ms``: while size, mtime, ctime and inode are unchanged, a ``stat`` only;
- ``scrub_s_per_gb``: the background scrub re-hashing what was served (every 15 min by default);
- ``repair_from_masters_s``: a lost 1-minute emergency programme rendered again from its master
  (what ``AudioRecovery`` does before answering the agent).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import write_results  # noqa: E402
from broadcaster.audio.loudness import Loudness  # noqa: E402
from broadcaster.audio.render import RenderedAudio  # noqa: E402
from broadcaster.cache import AudioCache  # noqa: E402
from broadcaster.config import load_settings  # noqa: E402
from broadcaster.services.audio_files import AudioFiles  # noqa: E402
from broadcaster.speech import ProgrammePiece, SpeechService  # noqa: E402

PROGRAMME_BYTES = 7 * 1024**2  # 15 minutes at 64 kbit/s
PROGRAMMES = 24  # a cache holding a day's sessions of a dozen differing clusters
ROUNDS = 5
TEXT = ("UBND xã thông báo: do mưa lớn kéo dài, nước sông dâng cao. Bà con ở ven sông khẩn trương di chuyển "
        "người và tài sản lên nơi cao, không đi qua ngầm tràn, theo dõi thông báo trên loa.")


def _drop_page_cache(path: Path) -> None:
    # The first serve after a restart reads from disk, not from memory: measure that case.
    with path.open("rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def main() -> None:
    """Measure and write the medians."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = AudioCache(Path(tmp) / "cache", max_bytes=4 * 1024**3)
        shas = []
        for index in range(PROGRAMMES):
            data = os.urandom(PROGRAMME_BYTES)
            key = hashlib.sha256(f"programme-{index}".encode()).hexdigest()
            entry = cache.get_or_create(key, lambda data=data: RenderedAudio(data, "mp3", Loudness(-16.0, -2.0, 900.0)))
            shas.append(entry.audio_sha256)
        first, later = [], []
        for _ in range(ROUNDS):
            files = AudioFiles(cache.path_for_audio_sha256)  # a fresh process knows nothing verified
            for sha in shas:
                path = cache.path_for_audio_sha256(sha)
                assert path is not None
                _drop_page_cache(path)
                started = time.perf_counter()
                files.find(f"{sha}.mp3")
                first.append(time.perf_counter() - started)
                started = time.perf_counter()
                files.find(f"{sha}.mp3")
                later.append(time.perf_counter() - started)
        scrubs = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            assert files.scrub() == []
            scrubs.append(time.perf_counter() - started)
        scrub_gb = PROGRAMME_BYTES * PROGRAMMES / 1024**3

        settings = load_settings(cache_dir=Path(tmp) / "speech-cache", data_dir=Path(tmp) / "data")
        speech = SpeechService(settings)
        piece = ProgrammePiece(text=TEXT, repeat=2)
        programme = speech.render_programme([piece])
        repairs = []
        for _ in range(ROUNDS):
            programme.path.unlink()
            programme.path.with_suffix(".json").unlink()
            speech.cache = AudioCache(settings.cache_dir)  # re-indexed: the programme is gone, the master is not
            started = time.perf_counter()
            again = speech.render_programme([piece])
            repairs.append(time.perf_counter() - started)
            assert again.sha256 == programme.sha256, "a programme from intact masters is bit-exact"
    results = {
        "programme_mb": round(PROGRAMME_BYTES / 1024**2, 1),
        "first_serve_ms": round(statistics.median(first) * 1000, 2),
        "later_serve_ms": round(statistics.median(later) * 1000, 3),
        "first_over_later": round(statistics.median(first) / statistics.median(later)),
        "scrub_s_per_gb": round(statistics.median(scrubs) / scrub_gb, 2),
        "scrub_of_a_day_s": round(statistics.median(scrubs), 2),
        "scrub_day_mb": round(PROGRAMME_BYTES * PROGRAMMES / 1024**2),
        "repair_from_masters_s": round(statistics.median(repairs), 3),
        "repair_programme_audio_s": round(programme.duration_s, 1),
        "rounds": ROUNDS,
    }
    write_results("audio_verify", results)


if __name__ == "__main__":
    main()
