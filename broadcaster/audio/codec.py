"""Decoding anything ffmpeg reads into PCM, and encoding PCM once at the end of the pipeline."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.errors import InvalidInput, ServiceFailure


class UnreadableAudio(InvalidInput):
    """The file is not audio that ffmpeg can read (corrupt, truncated, or not audio at all)."""

    code = "audio_unreadable"


class AudioProcessingError(ServiceFailure):
    """ffmpeg failed on audio we produced ourselves: a bug or a broken installation, not the user's input."""

    code = "audio_processing_failed"


# Encoded formats we produce: ffmpeg muxer and codec arguments. MP3 is what the speakers play.
ENCODINGS: dict[str, list[str]] = {
    "mp3": ["-f", "mp3", "-c:a", "libmp3lame"],
    "ogg": ["-f", "ogg", "-c:a", "libopus"],
    "wav": ["-f", "wav", "-c:a", "pcm_s16le"],
}
DEFAULT_BITRATE = "64k"


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: the system one if present, else the one imageio-ffmpeg ships."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def decode_audio(source: bytes | Path, sample_rate: int = SAMPLE_RATE) -> Pcm:
    """Decode any format ffmpeg reads to mono PCM at ``sample_rate``; ``UnreadableAudio`` if it cannot."""
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    data: bytes | None = None
    if isinstance(source, Path):
        if not source.is_file():
            raise UnreadableAudio(f"Không tìm thấy tệp âm thanh: {source.name}.", detail=str(source))
        args += ["-i", str(source)]
    else:
        data = source
        args += ["-i", "pipe:0"]
    args += ["-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"]
    result = subprocess.run(args, input=data, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise UnreadableAudio(
            "Tệp tải lên không phải là âm thanh đọc được (hỏng, cắt dở hoặc sai định dạng).",
            detail=result.stderr.decode("utf-8", "replace")[-500:],
        )
    return Pcm.from_int16(result.stdout, sample_rate)


def encode_audio(pcm: Pcm, fmt: str = "mp3", bitrate: str = DEFAULT_BITRATE) -> bytes:
    """Encode mono PCM to ``fmt`` (mp3, ogg or wav) in one ffmpeg call."""
    try:
        codec_args = ENCODINGS[fmt]
    except KeyError:
        raise InvalidInput(
            f"Định dạng âm thanh «{fmt}» không được hỗ trợ. Chọn một trong: {', '.join(ENCODINGS)}.",
            code="audio_unknown_format",
        ) from None
    args = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(pcm.sample_rate), "-ac", "1", "-i", "pipe:0",
        *codec_args,
    ]
    if fmt != "wav":
        args += ["-b:a", bitrate]
    args.append("pipe:1")
    result = subprocess.run(args, input=pcm.to_int16(), capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise AudioProcessingError(
            "Không mã hoá được âm thanh.", detail=result.stderr.decode("utf-8", "replace")[-500:]
        )
    return result.stdout
