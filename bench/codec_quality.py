"""Which LAME compression level to encode broadcasts with: encode time against the quality of the decoded MP3.

Run: .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/codec_quality.py
     (writes bench/results/codec_quality.json; the decision and its reasons are in docs/speech-speed.md)

The quality tool (``pesq``) is an optional extra, not a dependency: it is needed only to repeat this
measurement. Set CODEC_QUALITY_VISQOL=1 (and install ``visqol-python``) for a second perceptual
model; it is pure Python and takes minutes per row, so it is off by default.

Material: bulletins rendered by our pipeline as lossless masters (levelled to -16 LUFS, 22.05 kHz),
in three espeak-ng voices, and one with the intro and outro chimes. Each is encoded at 64 kb/s CBR
with libmp3lame at several ``-compression_level`` values (LAME's ``-q``: 0 slowest and best, 9
fastest; ffmpeg's default leaves LAME at its default, 3), decoded again by ffmpeg, and compared with
its master by:

- PESQ wideband (ITU-T P.862.2, ``pesq``), MOS-LQO: the standard intrusive measure of speech
  codecs; signals resampled to 16 kHz as P.862.2 requires.
- ViSQOL v3 speech mode (``visqol-python``, a Python port of Google's ViSQOL), MOS-LQO at 16 kHz,
  when asked for: a second perceptual model, built on spectro-temporal similarity.
- Log-spectral distance (dB, 22.05 kHz, 1024-point frames, speech frames only): a plain measure of
  how far the decoded spectrum is from the master's over the whole band, chimes included.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import write_results  # noqa: E402
from bench.speech import BULLETIN_60S  # noqa: E402
from broadcaster.audio.codec import decode_audio, ffmpeg_exe  # noqa: E402
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm  # noqa: E402
from broadcaster.config import load_settings  # noqa: E402
from broadcaster.speech import SpeechService  # noqa: E402

LEVELS = [0, 3, 5, 7, 9]
DEFAULT_LEVEL = 3  # what LAME uses when ffmpeg is not told a level
BITRATE = "64k"
TIMING_ROUNDS = 3
MATERIAL = {
    "vi (northern)": ("espeak:vi", False),
    "vi-vn-x-south": ("espeak:vi-vn-x-south", False),
    "vi+f3 (female variant)": ("espeak:vi+f3", False),
    "vi with chimes": ("espeak:vi", True),
}


def masters(workdir: Path) -> dict[str, Pcm]:
    """The lossless masters our pipeline makes for each piece of material."""
    settings = load_settings(cache_dir=workdir / "cache", data_dir=workdir / "data", engines=["espeak"])
    speech = SpeechService(settings)
    found = {}
    for name, (voice, chime) in MATERIAL.items():
        rendered = speech.render_text(BULLETIN_60S, voice=voice, chime=chime, fmt="wav")
        found[name] = decode_audio(rendered.path, SAMPLE_RATE)
    return found


def encode(pcm: Pcm, level: int) -> tuple[bytes, float]:
    """MP3 bytes at ``level`` and the median wall time of one encode."""
    args = [
        ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "s16le", "-ar", str(pcm.sample_rate), "-ac", "1",
        "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", BITRATE, "-compression_level", str(level), "-f", "mp3",
        "pipe:1",
    ]
    data = pcm.to_int16()
    times, out = [], b""
    for _ in range(TIMING_ROUNDS):
        started = time.perf_counter()
        out = subprocess.run(args, input=data, capture_output=True, check=True).stdout
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def aligned(reference: np.ndarray, degraded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals cut to their common part after removing the codec's delay (cross-correlation)."""
    window = min(len(reference), len(degraded), SAMPLE_RATE * 10)
    correlation = np.correlate(degraded[: window + 4096], reference[:window], mode="valid")
    lag = int(np.argmax(correlation)) if len(correlation) else 0
    degraded = degraded[lag:]
    length = min(len(reference), len(degraded))
    return reference[:length], degraded[:length]


def log_spectral_distance_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    """Mean over speech frames of the RMS difference of the log power spectra (dB)."""
    frame, hop = 1024, 512
    count = (len(reference) - frame) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    window = np.hanning(frame)
    ref = np.abs(np.fft.rfft(reference[index] * window, axis=1)) ** 2 + 1e-10
    deg = np.abs(np.fft.rfft(degraded[index] * window, axis=1)) ** 2 + 1e-10
    energy = 10 * np.log10(np.sum(ref, axis=1))
    speech = energy > energy.max() - 40  # frames within 40 dB of the loudest: not the pauses
    distance = np.sqrt(np.mean((10 * np.log10(ref[speech]) - 10 * np.log10(deg[speech])) ** 2, axis=1))
    return float(np.mean(distance))


def to_16k(samples: np.ndarray) -> np.ndarray:
    """Resampled to 16 kHz (PESQ wideband and ViSQOL speech mode work there)."""
    from scipy.signal import resample_poly

    return resample_poly(samples, 160, 441).astype(np.float64)


def quality(reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
    """PESQ-WB (and ViSQOL speech when asked for) and log-spectral distance of ``degraded`` against ``reference``."""
    from pesq import pesq

    ref, deg = aligned(reference, degraded)
    ref16, deg16 = to_16k(ref), to_16k(deg)
    found = {
        "pesq_wb": round(float(pesq(16000, ref16, deg16, "wb")), 3),
        "lsd_db": round(log_spectral_distance_db(ref, deg), 3),
    }
    if os.environ.get("CODEC_QUALITY_VISQOL"):
        from visqol.api import VisqolApi

        visqol = VisqolApi()
        visqol.create(mode="speech", use_lattice_model=False)
        found["visqol_speech"] = round(float(visqol.measure_from_arrays(ref16, deg16, sample_rate=16000).moslqo), 3)
    return found


def main() -> None:
    """Measure every level on every piece of material; write the table and the medians."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, master in masters(Path(tmp)).items():
            for level in LEVELS:
                data, seconds = encode(master, level)
                decoded = decode_audio(data, SAMPLE_RATE)
                rows.append({"material": name, "level": level, "encode_s": round(seconds, 4), "bytes": len(data),
                             **quality(master.samples.astype(np.float64), decoded.samples.astype(np.float64))})
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    summary = {}
    for level in LEVELS:
        mine = [row for row in rows if row["level"] == level]
        summary[str(level)] = {
            key: round(statistics.mean(row[key] for row in mine), 4)
            for key in ("encode_s", "pesq_wb", "visqol_speech", "lsd_db")
            if all(key in row for row in mine)
        }
    write_results("codec_quality", {"bitrate": BITRATE, "default_level": DEFAULT_LEVEL, "by_level": summary,
                                    "rows": rows})


if __name__ == "__main__":
    main()
