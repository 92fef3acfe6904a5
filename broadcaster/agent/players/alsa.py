"""Players for a real box: decoded PCM piped into ``aplay`` or ``ffmpeg``, which write to ALSA.

Not exercised by the test suite (no sound card here); kept small and apart on purpose. The
process is started before the start instant so the device is already open; the first write
is the start. Pacing comes from the device: writes block while its buffer is full. A stop
kills the process, which silences the horn at once instead of draining the buffer.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from typing import ClassVar

from broadcaster.agent.players.base import (
    LoadedAudio,
    Playback,
    Player,
    PlayerError,
    register_player,
    wait_until,
)
from broadcaster.audio import ffmpeg
from broadcaster.audio.codec import ffmpeg_exe

WRITE_CHUNK_S = 0.1


class PipePlayer(Player):
    """Feeds 16-bit mono PCM to a process's stdin."""

    program: ClassVar[str]

    def __init__(self, volume: int = 100, device: str = "default") -> None:
        super().__init__(volume)
        self.device = device

    def command(self, audio: LoadedAudio) -> list[str]:
        """The command line that reads raw PCM on stdin and plays it on ``self.device``."""
        raise NotImplementedError

    def play(self, audio: LoadedAudio, playback: Playback) -> None:
        """Open the device now, start writing at the start instant, kill on a stop."""
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(self.command(audio), stdin=subprocess.PIPE, stderr=errors)
            except OSError as error:
                raise PlayerError(f"Không chạy được bộ phát {self.program}.", detail=str(error)) from None
            finished = threading.Event()
            # A write blocked on a full device buffer cannot see a stop: a watcher kills the process.
            watcher = threading.Thread(target=self._kill_on_stop, args=(process, playback, finished), daemon=True)
            watcher.start()
            completed = False
            try:
                if not wait_until(playback.start_at, playback):
                    return
                assert process.stdin is not None
                playback.mark_started(playback.now())
                step = int(audio.sample_rate * WRITE_CHUNK_S) * 2
                for offset in range(0, len(audio.pcm), step):
                    if playback.stop_requested:
                        return
                    process.stdin.write(audio.pcm[offset : offset + step])
                process.stdin.close()
                try:
                    # The device drains its buffer: never longer than a moment past the audio's end.
                    process.wait(timeout=ffmpeg.BASE_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    raise PlayerError(f"Bộ phát {self.program} không kết thúc sau khi phát xong.") from None
                completed = process.returncode == 0 and not playback.stop_requested
                if process.returncode != 0 and not playback.stop_requested:
                    errors.seek(0)
                    raise PlayerError(
                        f"Bộ phát {self.program} báo lỗi khi phát.",
                        detail=errors.read()[-500:].decode("utf-8", "replace"),
                    )
            except (BrokenPipeError, ValueError):
                if not playback.stop_requested:
                    raise PlayerError(f"Bộ phát {self.program} dừng đột ngột.") from None
            finally:
                finished.set()
                if process.poll() is None:
                    process.kill()
                process.wait()
                playback.mark_ended(playback.now(), completed=completed)

    @staticmethod
    def _kill_on_stop(process: subprocess.Popen[bytes], playback: Playback, finished: threading.Event) -> None:
        while not finished.is_set():
            if playback.wait_stop(0.05):
                process.kill()
                return


@register_player("aplay")
class AplayPlayer(PipePlayer):
    """ALSA through ``aplay`` (alsa-utils)."""

    name = "aplay"
    program = "aplay"

    def command(self, audio: LoadedAudio) -> list[str]:
        """aplay reading raw S16_LE mono from stdin."""
        return ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", str(audio.sample_rate),
                "-D", self.device, "-"]


@register_player("ffmpeg")
class FfmpegAlsaPlayer(PipePlayer):
    """ALSA through ffmpeg's ``alsa`` output (needs an ffmpeg built with ALSA)."""

    name = "ffmpeg"
    program = "ffmpeg"

    def command(self, audio: LoadedAudio) -> list[str]:
        """ffmpeg reading raw s16le mono from stdin and writing to an ALSA device."""
        return [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
                *ffmpeg.pipe_input("s16le", "-ar", str(audio.sample_rate), "-ac", "1"), "-f", "alsa", self.device]
