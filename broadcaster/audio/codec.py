"""Decoding anything ffmpeg reads into PCM, and encoding PCM once at the end of the pipeline."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

from broadcaster.audio import ffmpeg
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.errors import InvalidInput, ServiceFailure


class UnreadableAudio(InvalidInput):
    """The file is not audio that ffmpeg can read (corrupt, truncated, or not audio at all)."""

    code = "audio_unreadable"


class AudioTooLarge(InvalidInput):
    """The upload is bigger than we agree to decode."""

    code = "audio_too_large"
    status = 413


class AudioTooLong(InvalidInput):
    """The upload plays for longer than a bulletin may last."""

    code = "audio_too_long"


class AudioProcessingError(ServiceFailure):
    """ffmpeg failed on audio we produced ourselves: a bug or a broken installation, not the user's input."""

    code = "audio_processing_failed"


# Encoded formats we produce: ffmpeg muxer and codec arguments. MP3 is what the speakers play.
ENCODINGS: dict[str, list[str]] = {
    # LAME's -q 7 instead of its default 3: about a third faster to encode, and no worse for speech at
    # 64 kb/s by PESQ-WB (4.46 against 4.18 on four bulletins); docs/speech-speed.md has the measurement.
    "mp3": ["-f", "mp3", "-c:a", "libmp3lame", "-compression_level", "7"],
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


def decode_audio(
    source: bytes | str | os.PathLike[str],
    sample_rate: int = SAMPLE_RATE,
    *,
    max_bytes: int | None = None,
    max_duration_s: float | None = None,
) -> Pcm:
    """Decode any format ffmpeg reads to mono PCM at ``sample_rate``; ``UnreadableAudio`` if it cannot.

    ``max_bytes`` and ``max_duration_s`` refuse oversized uploads (``AudioTooLarge`` / ``AudioTooLong``)
    before they can fill memory.
    """
    if not isinstance(source, bytes):
        source = Path(source)
        if not source.is_file():
            raise UnreadableAudio(f"Không tìm thấy tệp âm thanh: {source.name}.", detail=str(source))
        _check_size(source.stat().st_size, max_bytes)
        return _decode_file(source, sample_rate, max_duration_s)
    _check_size(len(source), max_bytes)
    if not source:
        raise UnreadableAudio("Tệp tải lên trống, không có âm thanh.", detail="empty upload")
    # MP4/M4A phone recordings keep their index at the end and cannot be read from a pipe,
    # so bytes go through a temporary file that ffmpeg can seek in.
    with tempfile.NamedTemporaryFile(prefix="broadcaster-upload-", suffix=".bin") as handle:
        handle.write(source)
        handle.flush()
        return _decode_file(Path(handle.name), sample_rate, max_duration_s)


def _check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise AudioTooLarge(
            f"Tệp âm thanh quá lớn ({size / 1e6:.1f} MB); giới hạn là {max_bytes / 1e6:.0f} MB.",
            detail=f"{size} > {max_bytes} bytes",
        )


def file_format(path: Path) -> str:
    """The demuxer for an audio file, from its first bytes; ``UnreadableAudio`` for anything else."""
    with path.open("rb") as handle:
        fmt = ffmpeg.sniff_format(handle.read(ffmpeg.SNIFF_BYTES))
    if fmt is None:
        raise UnreadableAudio(
            f"Tệp không phải là âm thanh ở định dạng được hỗ trợ ({ffmpeg.SUPPORTED_FORMATS}).",
            detail=f"unrecognized header in {path.name}",
        )
    return fmt


def _decode_file(path: Path, sample_rate: int, max_duration_s: float | None) -> Pcm:
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
            *ffmpeg.file_input(str(path), file_format(path)), "-vn"]
    if max_duration_s is not None:
        # Stop decoding just past the cap: enough to know the file is too long, without decoding hours.
        args += ["-t", f"{max_duration_s + 1.0:.3f}"]
    args += ["-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"]
    try:
        result = ffmpeg.run(args, timeout_s=ffmpeg.timeout_for(max_duration_s))
    except ffmpeg.FfmpegTimeout as error:
        raise UnreadableAudio("Không đọc được tệp âm thanh: xử lý quá lâu.", detail=error.detail) from None
    if result.returncode != 0 or not result.stdout:
        raise UnreadableAudio(
            "Tệp tải lên không phải là âm thanh đọc được (hỏng, cắt dở hoặc sai định dạng).",
            detail=result.stderr.decode("utf-8", "replace")[-500:],
        )
    pcm = Pcm.from_int16(result.stdout, sample_rate)
    if max_duration_s is not None and pcm.duration_s > max_duration_s:
        raise AudioTooLong(
            f"Bản ghi âm dài hơn giới hạn {max_duration_s / 60:.0f} phút.",
            detail=f"longer than {max_duration_s} s",
        )
    return pcm


def encode_command(fmt: str, bitrate: str, sample_rate: int) -> list[str]:
    """The ffmpeg command that reads s16le mono PCM on stdin and writes ``fmt`` to stdout."""
    try:
        codec_args = ENCODINGS[fmt]
    except KeyError:
        raise InvalidInput(
            f"Định dạng âm thanh «{fmt}» không được hỗ trợ. Chọn một trong: {', '.join(ENCODINGS)}.",
            code="audio_unknown_format",
        ) from None
    args = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
        *ffmpeg.pipe_input("s16le", "-ar", str(sample_rate), "-ac", "1"),
        *codec_args,
    ]
    if fmt != "wav":
        args += ["-b:a", bitrate]
    # Bit-exact output for identical input: no encoder/version tag that would change the hash.
    args += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "pipe:1"]
    return args


def encode_audio(pcm: Pcm, fmt: str = "mp3", bitrate: str = DEFAULT_BITRATE) -> bytes:
    """Encode mono PCM to ``fmt`` (mp3, ogg or wav) in one ffmpeg call."""
    args = encode_command(fmt, bitrate, pcm.sample_rate)
    result = ffmpeg.run(args, stdin=pcm.to_int16(), timeout_s=ffmpeg.timeout_for(pcm.duration_s))
    if result.returncode != 0 or not result.stdout:
        raise AudioProcessingError(
            "Không mã hóa được âm thanh.", detail=result.stderr.decode("utf-8", "replace")[-500:]
        )
    return result.stdout

