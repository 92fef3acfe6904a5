"""Rendering: spoken pieces (or an uploaded recording) in, one levelled and encoded file out.

PCM stays PCM until the very end: trim and join the sentences, level the speech once, add the
repeats and the chimes around it, then encode once and measure what was encoded. If the
measurement of the encoded file misses the promise (loudness off by more than half a LU, or a
true peak over the limit) the render is corrected and encoded once more.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from broadcaster.audio.chime import chime
from broadcaster.audio.codec import DEFAULT_BITRATE, ENCODINGS, decode_audio
from broadcaster.audio.levelling import CODEC_PEAK_MARGIN_DB, TARGET_LUFS, TRUE_PEAK_DB, level
from broadcaster.audio.loudness import EncodingJob, Loudness
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.audio.timeline import (
    conform,
    fade_edges,
    join_with_pauses,
    pause,
    repeat_with_gap,
    trim_silence,
)
from broadcaster.errors import InvalidInput

# Bump whenever the same input would render differently (levelling, chimes, pauses, encoder
# settings): it is part of every cache key, so old renders are then made afresh.
RENDER_VERSION = 3  # 2: MP3 encoded at LAME -q 7; 3: measured by our meter (full precision: retries differ)

AFTER_INTRO_S = 0.6
BEFORE_OUTRO_S = 0.8
UPLOAD_MAX_BYTES = 50 * 1000 * 1000
UPLOAD_MAX_DURATION_S = 30 * 60.0
# LAME at 64 kb/s CBR returns the signal about 0.2-0.45 LU quieter than it got (measured on
# speech, tones and noise at 22.05 kHz); aiming that much higher centres the result.
CODEC_LOUDNESS_LOSS_LU: dict[str, float] = {"mp3": 0.3}
_RETRY_LOUDNESS_LU = 0.5
_MIN_DURATION_FOR_LOUDNESS_S = 3.0  # shorter than this, the gated measurement is too coarse to chase
_BITRATE = re.compile(r"^[1-9][0-9]{1,2}k$")


class InvalidRenderOptions(InvalidInput):
    """A render option is out of its allowed range."""

    code = "audio_bad_render_options"


class NothingToRender(InvalidInput):
    """No audio was given, or all of it is digital silence."""

    code = "audio_silent"


@dataclass(frozen=True)
class RenderOptions:
    """How spoken pieces become a broadcast file. Part of the cache key."""

    sentence_pause_s: float = 0.45
    repeat: int = 1
    repeat_gap_s: float = 2.0
    chime: bool = True
    target_lufs: float = TARGET_LUFS
    true_peak_db: float = TRUE_PEAK_DB
    fmt: str = "mp3"
    bitrate: str = DEFAULT_BITRATE

    def __post_init__(self) -> None:
        _check_range("sentence_pause_s", self.sentence_pause_s, 0.0, 10.0)
        _check_range("repeat", self.repeat, 1, 10)
        _check_range("repeat_gap_s", self.repeat_gap_s, 0.0, 30.0)
        _check_range("target_lufs", self.target_lufs, -40.0, -6.0)
        _check_range("true_peak_db", self.true_peak_db, -12.0, 0.0)
        if self.fmt not in ENCODINGS:
            raise InvalidRenderOptions(
                f"Định dạng «{self.fmt}» không được hỗ trợ. Chọn một trong: {', '.join(ENCODINGS)}.",
                detail=f"fmt={self.fmt!r}",
            )
        if not _BITRATE.match(self.bitrate):
            raise InvalidRenderOptions(
                f"Tốc độ bit «{self.bitrate}» không hợp lệ (ví dụ đúng: 64k).", detail=f"bitrate={self.bitrate!r}"
            )

    def cache_fields(self) -> dict[str, Any]:
        """The options as plain JSON-able data, for hashing."""
        return {
            "sentence_pause_s": float(self.sentence_pause_s),
            "repeat": int(self.repeat),
            "repeat_gap_s": float(self.repeat_gap_s),
            "chime": bool(self.chime),
            "target_lufs": float(self.target_lufs),
            "true_peak_db": float(self.true_peak_db),
            "fmt": self.fmt,
            "bitrate": self.bitrate,
        }


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (low <= value <= high):
        raise InvalidRenderOptions(
            f"Tùy chọn «{name}» phải nằm trong khoảng {low}–{high} (nhận được {value!r}).",
            detail=f"{name}={value!r}",
        )


@dataclass(frozen=True)
class RenderedAudio:
    """An encoded file and what ffmpeg measured on it; ``info`` carries provenance for the cache."""

    data: bytes
    fmt: str
    loudness: Loudness
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Playing time of the encoded file."""
        return self.loudness.duration_s

    @property
    def sha256(self) -> str:
        """Hex sha256 of the encoded bytes."""
        return hashlib.sha256(self.data).hexdigest()

    def with_info(self, **info: Any) -> RenderedAudio:
        """A copy with more provenance (text, engine that actually spoke, voice, ...)."""
        return replace(self, info={**self.info, **info})


def render(pieces: Sequence[Pcm] | Pcm, options: RenderOptions | None = None) -> RenderedAudio:
    """Join, level, repeat, frame with chimes and encode the spoken pieces; measure the result."""
    options = options or RenderOptions()
    body = _speech_body([pieces] if isinstance(pieces, Pcm) else list(pieces), options.sentence_pause_s)
    aim_lufs = options.target_lufs + CODEC_LOUDNESS_LOSS_LU.get(options.fmt, 0.0)
    margin_db = CODEC_PEAK_MARGIN_DB
    rendered, reached_lufs = _render_once(body, options, aim_lufs, margin_db)
    measured = rendered.loudness
    peak_excess = measured.true_peak_dbtp - options.true_peak_db
    loudness_miss = options.target_lufs - measured.integrated_lufs
    chase_loudness = (
        math.isfinite(measured.integrated_lufs)
        and measured.duration_s >= _MIN_DURATION_FOR_LOUDNESS_S
        and abs(loudness_miss) > _RETRY_LOUDNESS_LU
        # When the leveller stopped short on purpose (gain cap, limiting cap), aiming higher is futile.
        and abs(reached_lufs - aim_lufs) < _RETRY_LOUDNESS_LU
    )
    if peak_excess > 0 or chase_loudness:
        # The codec moved things more than the margins allow for: correct by what we saw, once.
        if peak_excess > 0:
            margin_db += peak_excess + 0.3
        if chase_loudness:
            aim_lufs += max(-3.0, min(3.0, loudness_miss))
        rendered, _ = _render_once(body, options, aim_lufs, margin_db)
    return rendered


def render_upload(
    source: bytes | str | os.PathLike[str],
    options: RenderOptions | None = None,
    *,
    max_bytes: int = UPLOAD_MAX_BYTES,
    max_duration_s: float = UPLOAD_MAX_DURATION_S,
) -> RenderedAudio:
    """Render a recording in any format ffmpeg reads (e.g. a bulletin read aloud in Tày or Mông)."""
    pcm = decode_audio(source, SAMPLE_RATE, max_bytes=max_bytes, max_duration_s=max_duration_s)
    return render(pcm, options)


def _speech_body(pieces: list[Pcm], pause_s: float) -> Pcm:
    if not pieces:
        raise NothingToRender("Không có âm thanh nào để phát.", detail="no pieces")
    cleaned = [trim_silence(conform(piece, SAMPLE_RATE)) for piece in pieces]
    spoken = [fade_edges(piece) for piece in cleaned if len(piece.samples)]
    if not spoken:
        raise NothingToRender("Âm thanh hoàn toàn im lặng, không có gì để phát.", detail="all silent")
    return join_with_pauses(spoken, pause_s)


def _render_once(
    body: Pcm, options: RenderOptions, aim_lufs: float, margin_db: float
) -> tuple[RenderedAudio, float]:
    # The encoder and its meter start while the speech is levelled, on the other core.
    encoding = EncodingJob(options.fmt, options.bitrate, body.sample_rate)
    try:
        levelled = level(body, aim_lufs, options.true_peak_db, margin_db=margin_db)
        # Chimes follow the speech as it came out, so a capped quiet recording is not drowned by them.
        speech_lufs = min(aim_lufs, levelled.integrated_lufs) if math.isfinite(levelled.integrated_lufs) else aim_lufs
        chime_peak_db = options.true_peak_db - (margin_db - CODEC_PEAK_MARGIN_DB)
        programme = arrange(levelled.pcm, options, speech_lufs, chime_peak_db)
    except BaseException:
        encoding.cancel()
        raise
    data, loudness = encoding.finish(programme)
    return RenderedAudio(data=data, fmt=options.fmt, loudness=loudness), levelled.integrated_lufs


def arrange(speech: Pcm, options: RenderOptions, speech_lufs: float, true_peak_db: float) -> Pcm:
    """Levelled speech repeated with gaps, between the intro and outro chimes when asked for."""
    programme = repeat_with_gap(speech, options.repeat, options.repeat_gap_s)
    if not options.chime:
        return programme
    rate = programme.sample_rate
    intro = chime("intro", round(speech_lufs, 2), round(true_peak_db, 2), rate)
    outro = chime("outro", round(speech_lufs, 2), round(true_peak_db, 2), rate)
    return Pcm(
        np.concatenate(
            [intro.samples, pause(AFTER_INTRO_S, rate).samples, programme.samples,
             pause(BEFORE_OUTRO_S, rate).samples, outro.samples]
        ),
        rate,
    )
