"""Test signals for the audio tests: speech-like audio, tones, noise, and files made by ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from scipy import signal

from broadcaster.audio.codec import ffmpeg_exe
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm

BULLETIN = (
    "Thông báo của Ủy ban nhân dân xã về việc tiêm phòng cho gia súc, gia cầm. "
    "Đề nghị các hộ gia đình đưa trâu bò đến điểm tiêm tại nhà văn hóa thôn vào sáng thứ bảy."
)


def speech(seconds: float = 12.0) -> Pcm:
    """Speech at its natural level: espeak-ng when the engine module is there, else a speech-like signal."""
    try:
        from broadcaster.tts.base import SynthesisOptions
        from broadcaster.tts.espeak import EspeakEngine
    except ImportError:
        return speech_like(seconds)
    engine = EspeakEngine()
    pieces: list[Pcm] = []
    total = 0.0
    while total < seconds:
        piece = engine.synthesize(BULLETIN, SynthesisOptions())
        pieces.append(piece)
        total += piece.duration_s
    joined = pieces[0].concat(*pieces[1:])
    return Pcm(joined.samples[: int(seconds * SAMPLE_RATE)], SAMPLE_RATE)


def speech_like(seconds: float, seed: int = 1) -> Pcm:
    """A voiced, formant-filtered, syllable-modulated signal with pauses: peaky like real speech."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    source = np.zeros(n)
    for k in range(1, 40):
        source += np.where(k * f0 < SAMPLE_RATE / 2 - 500, np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k, 0.0)
    source += 0.05 * rng.standard_normal(n)
    voiced = np.zeros(n)
    for centre, bandwidth, gain in ((700, 130, 1.0), (1200, 150, 0.6), (2600, 250, 0.3)):
        b, a = signal.iirpeak(centre, centre / bandwidth, SAMPLE_RATE)
        voiced += gain * signal.lfilter(b, a, source)
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.7
    words = (rng.random(int(seconds * 2) + 1) > 0.2).repeat(SAMPLE_RATE // 2)[:n]
    out = voiced * syllables * words
    out = out / np.sqrt(np.mean(out[out != 0] ** 2)) * 0.1
    return Pcm(out.astype(np.float32))


def tone(freq: float, seconds: float, amplitude: float) -> Pcm:
    """A sine wave."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return Pcm((amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32))


def noise(seconds: float, rms: float, seed: int = 7) -> Pcm:
    """White Gaussian noise."""
    rng = np.random.default_rng(seed)
    return Pcm((rms * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32))


def scaled(pcm: Pcm, factor: float, clip: bool = False) -> Pcm:
    """``pcm`` times ``factor``, optionally hard-clipped to [-1, 1] like an overdriven recording."""
    samples = pcm.samples * np.float32(factor)
    return Pcm(np.clip(samples, -1.0, 1.0) if clip else samples, pcm.sample_rate)


def write_with_ffmpeg(pcm: Pcm, path: Path, *codec_args: str, sample_rate: int = 44100, channels: int = 2) -> Path:
    """Encode ``pcm`` to ``path`` with ffmpeg (format from the suffix), e.g. a stereo 44.1 kHz phone recording."""
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "s16le", "-ar", str(pcm.sample_rate), "-ac", "1", "-i", "pipe:0",
         "-ar", str(sample_rate), "-ac", str(channels), *codec_args, str(path)],
        input=pcm.to_int16(), check=True, capture_output=True,
    )
    return path


def dominant_frequency(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """The frequency of the strongest spectral peak (Hann window, zero-padded for resolution)."""
    window = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window, n=1 << 16))
    return float(np.argmax(spectrum) * sample_rate / (1 << 16))
