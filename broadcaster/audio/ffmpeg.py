"""Running ffmpeg safely, whichever binary is found: an explicit input format, a protocol whitelist, a timeout.

ffmpeg guesses a file's format from its content and will follow what some formats point to (an
HLS playlist or a concat script names other files and URLs). An upload must never make the
server read anything but itself, so every input is opened with the demuxer we chose from the
file's first bytes (``sniff_format``) and with ``-protocol_whitelist file`` (or ``pipe``), on
old system ffmpeg builds as on new ones. Every call has a deadline: a file crafted to stall a
demuxer, or a wedged process, ends in an error instead of a hung worker.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from broadcaster.errors import ServiceFailure

# Base allowance for any call, plus a share of the audio's length (ffmpeg runs at >50x real time).
BASE_TIMEOUT_S = 60.0
TIMEOUT_PER_AUDIO_S = 0.5
# The longest audio we ever handle (a 30-minute recording); used when the length is not known yet.
LONGEST_AUDIO_S = 1800.0
SNIFF_BYTES = 64
# What phones, laptops and browsers record, by the magic bytes that open the file.
SUPPORTED_FORMATS = "MP3, M4A/MP4/3GP, WAV, OGG/Opus, FLAC, AMR, WebM, AIFF, AAC, WMA"


class FfmpegTimeout(ServiceFailure):
    """ffmpeg did not finish in time; the process was killed."""

    code = "audio_ffmpeg_timeout"


def timeout_for(duration_s: float | None) -> float:
    """The deadline of one ffmpeg call on audio lasting ``duration_s`` (None: not known yet)."""
    return BASE_TIMEOUT_S + TIMEOUT_PER_AUDIO_S * (LONGEST_AUDIO_S if duration_s is None else max(0.0, duration_s))


def sniff_format(head: bytes) -> str | None:
    """The ffmpeg demuxer for a file starting with ``head``, or None if it is no audio format we take."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp":
        return "mov"  # mov, mp4, m4a, 3gp: one demuxer
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # also WebM, what browsers record
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # An MPEG audio frame; layer bits 00 mean an AAC ADTS frame instead.
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


def file_input(path: str, fmt: str) -> list[str]:
    """Input options for reading a local file with the demuxer ``fmt``, nothing else reachable."""
    return ["-protocol_whitelist", "file", "-f", fmt, "-i", f"file:{path}"]


def pipe_input(fmt: str, *options: str) -> list[str]:
    """Input options for reading standard input with the demuxer ``fmt`` (and its options)."""
    return ["-protocol_whitelist", "pipe", "-f", fmt, *options, "-i", "pipe:0"]


def run(args: Sequence[str], *, timeout_s: float, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg to completion, output captured; ``FfmpegTimeout`` (process killed) past ``timeout_s``."""
    try:
        return subprocess.run(list(args), input=stdin, capture_output=True, check=False, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise FfmpegTimeout(
            "Xử lý âm thanh quá lâu nên đã dừng; hãy thử lại, hoặc dùng tệp khác nếu lỗi lặp lại.",
            detail=f"ffmpeg killed after {timeout_s:.0f} s: {' '.join(args[:12])}",
        ) from None
