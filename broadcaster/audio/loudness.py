"""Loudness measurement: BS.1770 integrated loudness and true peak, of PCM and of encoded audio.

The leveller measures PCM (``gated_power``: pyloudnorm's filters and gates, vectorized). The
renderer measures what it encoded, as the speakers will play it: a second ffmpeg decodes the
encoder's output while it is produced and ``StreamingMeter`` measures the decoded samples as they
come (``EncodingJob``). ``measure_loudness`` measures any file or bytes with ffmpeg's ``ebur128``
filter: an independent meter, which the tests hold ours to.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from broadcaster.audio import ffmpeg
from broadcaster.audio.codec import (
    AudioProcessingError,
    UnreadableAudio,
    encode_command,
    ffmpeg_exe,
    file_format,
)
from broadcaster.audio.limiter import true_peak_envelope
from broadcaster.audio.pcm import Pcm
from broadcaster.audio.truepeak import TruePeakMeter

# BS.1770 absolute gate: blocks quieter than this count as silence; a whole signal below it has no
# integrated loudness, which we report as -inf (ffmpeg prints -70.0 for the same case).
ABSOLUTE_GATE_LUFS = -70.0
_BLOCK_S = 0.4
_BLOCK_STEP = 0.25  # blocks overlap by 75%
# Clips shorter than one gating block are measured as if looped to this length.
_SHORT_CLIP_MEASURE_S = 1.2


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS), true peak (dBTP) and duration of a piece of audio."""

    integrated_lufs: float  # -inf: silent, or too short for one gating block
    true_peak_dbtp: float  # -inf: digital silence
    duration_s: float

    def as_json(self) -> dict[str, float | None]:
        """Plain JSON data; -inf (silence) becomes null."""
        return {
            "integrated_lufs": _finite_or_none(self.integrated_lufs),
            "true_peak_dbtp": _finite_or_none(self.true_peak_dbtp),
            "duration_s": round(self.duration_s, 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Loudness:
        """The inverse of ``as_json``."""
        return cls(
            integrated_lufs=_none_to_inf(data.get("integrated_lufs")),
            true_peak_dbtp=_none_to_inf(data.get("true_peak_dbtp")),
            duration_s=float(data["duration_s"]),
        )


def _finite_or_none(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def _none_to_inf(value: Any) -> float:
    return float("-inf") if value is None else float(value)


def integrated_lufs(pcm: Pcm) -> float:
    """BS.1770-4 integrated loudness of PCM in LUFS (pyloudnorm); -inf when nothing passes the gate."""
    samples = _finite(pcm)
    if len(samples) == 0 or not np.any(samples):
        return float("-inf")
    import pyloudnorm  # imported here: pyloudnorm pulls in scipy.signal, ~0.7 s to import

    rate = pcm.sample_rate
    if len(samples) < _BLOCK_S * rate:
        # pyloudnorm refuses input shorter than one block. Looping the clip keeps its mean square,
        # which is what its loudness is; padding with silence would understate it.
        samples = np.tile(samples, math.ceil(_SHORT_CLIP_MEASURE_S * rate / len(samples)))
    lufs = float(pyloudnorm.Meter(rate).integrated_loudness(samples))
    return lufs if math.isfinite(lufs) and lufs > ABSOLUTE_GATE_LUFS else float("-inf")


@dataclass(frozen=True)
class GatedPower:
    """Where a signal's BS.1770 loudness comes from, sample by sample.

    ``weighted_power`` is the K-weighted power of each sample times the number of gated blocks
    that count it, so ``integrated_lufs`` moves by ``10*log10(sum(weighted_power * g**2) / sum(weighted_power))``
    when a slowly varying gain ``g`` is applied. The leveller uses this to predict what its limiter
    does to loudness without measuring again.
    """

    integrated_lufs: float
    weighted_power: npt.NDArray[np.float64]

    def change_db(self, gain: npt.NDArray[np.float32]) -> float:
        """Predicted change of integrated loudness (dB) when the signal is multiplied by ``gain``."""
        total = float(np.sum(self.weighted_power))
        if total <= 0:
            return 0.0
        after = float(np.dot(self.weighted_power, np.square(gain, dtype=np.float64)))
        return 10.0 * math.log10(after / total) if after > 0 else float("-inf")


def gated_power(pcm: Pcm) -> GatedPower:
    """The BS.1770-4 loudness of ``pcm`` and its per-sample gated K-weighted power (see GatedPower).

    The same filters, blocks and gates as pyloudnorm (``integrated_lufs``; the tests hold the two to
    0.01 LU), with the blocks summed from one cumulative sum instead of one by one: the leveller
    measures every render, and this is ~5x faster.
    """
    samples = _finite(pcm)
    rate = pcm.sample_rate
    if len(samples) == 0 or not np.any(samples):
        return GatedPower(float("-inf"), np.zeros(len(samples)))
    power = np.square(_k_weighted(samples, rate))
    if len(samples) < _BLOCK_S * rate:
        # Shorter than one gating block: measured by its mean square, as if looped.
        mean_square, coverage = float(np.mean(power)), np.ones(len(samples))
    else:
        gated = _gated_blocks_of(power, rate)
        if gated is None:
            return GatedPower(float("-inf"), np.zeros(len(samples)))
        mean_square, lower, upper = gated
        coverage = np.zeros(len(samples) + 1)
        np.add.at(coverage, lower, 1.0)
        np.add.at(coverage, upper, -1.0)
        coverage = np.cumsum(coverage)[: len(samples)]
    lufs = _lufs(mean_square)
    if lufs == float("-inf"):
        return GatedPower(lufs, np.zeros(len(samples)))
    return GatedPower(lufs, power * coverage)


def _gated_blocks_of(
    power: npt.NDArray[np.float64], rate: int
) -> tuple[float, npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """BS.1770's 400 ms blocks over K-weighted ``power`` (at least one block long), gated.

    The mean square of the gated blocks and where they start and end; None if no block passes.
    The blocks are summed from one cumulative sum instead of one by one.
    """
    block = _BLOCK_S * rate
    count = int(np.round((len(power) / rate - _BLOCK_S) / (_BLOCK_S * _BLOCK_STEP))) + 1
    index = np.arange(count)
    lower = (_BLOCK_S * (index * _BLOCK_STEP) * rate).astype(int)
    upper = np.minimum((_BLOCK_S * (index * _BLOCK_STEP + 1) * rate).astype(int), len(power))
    running = np.concatenate(([0.0], np.cumsum(power)))
    block_power = (running[upper] - running[lower]) / block
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(block_power)
    kept = _gated_blocks(block_lufs)
    if len(kept) == 0:
        return None
    return float(np.mean(block_power[kept])), lower[kept], upper[kept]


def _lufs(mean_square: float) -> float:
    # -inf below the absolute gate, as for silence.
    lufs = -0.691 + 10.0 * math.log10(mean_square) if mean_square > 0 else float("-inf")
    return lufs if math.isfinite(lufs) and lufs > ABSOLUTE_GATE_LUFS else float("-inf")


def _finite(pcm: Pcm) -> npt.NDArray[np.float64]:
    samples = np.asarray(pcm.samples, dtype=np.float64)
    if np.isfinite(samples).all():  # the usual case, and much cheaper than nan_to_num
        return samples
    return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)


def _k_weighted(samples: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    from scipy.signal import sosfilt

    sections, gain = _k_weighting(rate)
    return np.asarray(sosfilt(sections, samples) * gain, dtype=np.float64)


@functools.cache
def _k_weighting(rate: int) -> tuple[npt.NDArray[np.float64], float]:
    # The same two BS.1770 stages pyloudnorm's Meter uses for "K-weighting", as one cascade, and its gain.
    from pyloudnorm.iirfilter import IIRfilter

    stages = [IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, rate, "high_shelf"), IIRfilter(0.0, 0.5, 38.0, rate, "high_pass")]
    sections = np.array([[*stage.b, *stage.a] for stage in stages])
    return sections, math.prod(stage.passband_gain for stage in stages)


@functools.cache
def _bs1770_k_weighting(rate: int) -> npt.NDArray[np.float64]:
    """BS.1770's K-weighting at ``rate``: its pre-filter (shelf) and RLB high-pass, as second-order sections.

    The analogue parameters that give BS.1770's published 48 kHz coefficients exactly (those of
    libebur128); pyloudnorm's rounder ones read ~0.05 LU low. At 22.05 kHz the bilinear transform
    bends the response a little: speech reads ~0.05 LU above the 48 kHz filter.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def _gated_blocks(block_lufs: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    # BS.1770's two gates: absolute at -70 LUFS, then relative at 10 LU under the blocks that passed.
    above_absolute = block_lufs >= ABSOLUTE_GATE_LUFS
    if not np.any(above_absolute):
        return np.zeros(0, dtype=np.intp)
    energy = np.power(10.0, (block_lufs[above_absolute] + 0.691) / 10.0)
    relative_gate = -0.691 + 10.0 * math.log10(float(np.mean(energy))) - 10.0
    return np.flatnonzero((block_lufs > ABSOLUTE_GATE_LUFS) & (block_lufs > relative_gate))


class StreamingMeter:
    """BS.1770 integrated loudness and true peak of mono PCM that arrives in pieces.

    Its K-weighting is BS.1770's own filter (exactly its 48 kHz coefficients at 48 kHz, as
    ffmpeg's ebur128 uses them), carried from piece to piece; the gating needs every block, so
    it runs once in ``result`` on the stored powers (one cumulative sum: milliseconds). Strict
    BS.1770, like ffmpeg's meter: audio shorter than one 400 ms block has no integrated loudness.
    """

    def __init__(self, sample_rate: int) -> None:
        from scipy.signal import sosfilt  # imported here: scipy.signal takes ~0.7 s to import

        self._sosfilt = sosfilt
        self.sample_rate = sample_rate
        self._sections = _bs1770_k_weighting(sample_rate)
        self._state = np.zeros((len(self._sections), 2))
        self._power: list[npt.NDArray[np.float64]] = []
        self._count = 0
        self._true_peak = TruePeakMeter()

    def feed(self, samples: npt.NDArray[np.floating]) -> None:
        """Take the next samples (full scale 1.0)."""
        if len(samples) == 0:
            return
        weighted, self._state = self._sosfilt(self._sections, np.asarray(samples, dtype=np.float64), zi=self._state)
        self._power.append(np.square(weighted))
        self._count += len(samples)
        self._true_peak.feed(samples)

    def result(self) -> Loudness:
        """The loudness, true peak and duration of everything fed."""
        lufs = float("-inf")
        if self._count >= _BLOCK_S * self.sample_rate:
            gated = _gated_blocks_of(np.concatenate(self._power), self.sample_rate)
            lufs = _lufs(gated[0]) if gated is not None else lufs
        return Loudness(integrated_lufs=lufs, true_peak_dbtp=self._true_peak.dbtp,
                        duration_s=self._count / self.sample_rate)


def true_peak_dbtp(pcm: Pcm) -> float:
    """True peak of PCM in dBTP as the limiter sees it (its 4x envelope); -inf for digital silence."""
    if len(pcm.samples) == 0:
        return float("-inf")
    peak = float(np.max(true_peak_envelope(pcm.samples)))
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def _ebur128_command(input_args: list[str]) -> list[str]:
    # framelog=quiet: the per-100 ms log lines cost more than the measurement itself.
    return [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:2",
        *input_args, "-vn", "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-",
    ]


_INTEGRATED = re.compile(r"^\s*I:\s+(-?[\d.]+) LUFS", re.MULTILINE)
_PEAK = re.compile(r"^\s*Peak:\s+(-?(?:[\d.]+|inf)) dBFS", re.MULTILINE)
_OUT_TIME = re.compile(r"^out_time_us=(\d+)", re.MULTILINE)


def parse_ebur128(stderr: str) -> Loudness:
    """Read the summary ffmpeg's ebur128 filter and ``-progress`` print; ValueError if it is absent."""
    integrated = _INTEGRATED.findall(stderr)
    peak = _PEAK.findall(stderr)
    out_time = _OUT_TIME.findall(stderr)
    if not integrated or not peak:
        raise ValueError("no ebur128 summary in ffmpeg output")
    lufs = float(integrated[-1])
    return Loudness(
        integrated_lufs=lufs if lufs > ABSOLUTE_GATE_LUFS else float("-inf"),
        true_peak_dbtp=float(peak[-1]),
        duration_s=int(out_time[-1]) / 1e6 if out_time else 0.0,
    )


def measure_loudness(encoded: bytes | str | os.PathLike[str]) -> Loudness:
    """Measure encoded audio as it will play: ffmpeg ebur128 integrated LUFS, true peak and duration."""
    if not isinstance(encoded, bytes):
        encoded = Path(encoded)
        if not encoded.is_file():
            raise UnreadableAudio(f"Không tìm thấy tệp âm thanh: {encoded.name}.", detail=str(encoded))
        command = _ebur128_command(ffmpeg.file_input(str(encoded), file_format(encoded)))
        result = ffmpeg.run(command, timeout_s=ffmpeg.timeout_for(None))
    else:
        fmt = ffmpeg.sniff_format(encoded[: ffmpeg.SNIFF_BYTES])
        if fmt is None:
            raise UnreadableAudio("Không đo được độ lớn: dữ liệu không phải là âm thanh.", detail="unknown header")
        result = ffmpeg.run(_ebur128_command(ffmpeg.pipe_input(fmt)), stdin=encoded, timeout_s=ffmpeg.timeout_for(None))
    stderr = result.stderr.decode("utf-8", "replace")
    try:
        if result.returncode != 0:
            raise ValueError(f"ffmpeg exit {result.returncode}")
        return parse_ebur128(stderr)
    except ValueError:
        raise UnreadableAudio(
            "Không đo được độ lớn: tệp không phải là âm thanh đọc được.", detail=stderr[-500:]
        ) from None


def encode_and_measure(pcm: Pcm, fmt: str, bitrate: str) -> tuple[bytes, Loudness]:
    """Encode PCM and measure the encoded stream as it is produced (see ``EncodingJob``)."""
    return EncodingJob(fmt, bitrate, pcm.sample_rate).finish(pcm)


# How many decoded bytes the meter takes at a time (~0.7 s of audio at 22.05 kHz): fewer, larger
# pieces cost less per sample, and the last piece, measured after the encoder ends, stays short.
_METER_READ_BYTES = 1 << 16


# Decoded for measuring at the rate the codec works at: Opus always decodes to 48 kHz.
_CODEC_RATE = {"ogg": 48000}


def _decode_command(fmt: str, sample_rate: int) -> list[str]:
    # 32-bit float: the decoder's own output for MP3, so nothing is clipped or rounded before measuring.
    return [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *ffmpeg.pipe_input(fmt), "-vn",
        "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-c:a", "pcm_f32le", "pipe:1",
    ]


class EncodingJob:
    """An encoder and a decoder started ahead of their input (two piped ffmpeg processes), and a meter.

    The decoder turns the encoder's output back into PCM as it is produced, and ``StreamingMeter``
    measures that PCM in a thread as it arrives: what the speakers will play is measured in step
    with the encode, and on a machine with two cores finishes just after it. Starting both
    processes before the PCM is ready (the renderer does so before levelling) hides their start-up.
    """

    def __init__(self, fmt: str, bitrate: str, sample_rate: int) -> None:
        command = encode_command(fmt, bitrate, sample_rate)
        self.sample_rate = sample_rate
        self.decoded_rate = _CODEC_RATE.get(fmt, sample_rate)
        self.encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.decoder = subprocess.Popen(
                _decode_command(fmt, self.decoded_rate), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except BaseException:
            _end(self.encoder)
            raise

    def finish(self, pcm: Pcm) -> tuple[bytes, Loudness]:
        """Feed ``pcm``, collect the encoded bytes and the meter's reading."""
        encoder, decoder = self.encoder, self.decoder
        assert encoder.stdin and encoder.stdout and encoder.stderr
        assert decoder.stdin and decoder.stdout and decoder.stderr
        if pcm.sample_rate != self.sample_rate:
            self.cancel()
            raise ValueError(f"the job was started for {self.sample_rate} Hz, not {pcm.sample_rate} Hz")
        encoder_errors: list[bytes] = []
        decoder_errors: list[bytes] = []
        meter = StreamingMeter(self.decoded_rate)
        meter_failures: list[BaseException] = []
        threads = [
            threading.Thread(target=_feed, args=(encoder.stdin, pcm.to_int16()), daemon=True),
            threading.Thread(target=_drain, args=(encoder.stderr, encoder_errors), daemon=True),
            threading.Thread(target=_drain, args=(decoder.stderr, decoder_errors), daemon=True),
            threading.Thread(target=_measure, args=(decoder.stdout, meter, meter_failures), daemon=True),
        ]
        for thread in threads:
            thread.start()
        # A wedged encoder or decoder would block the reads below for ever: kill both at the deadline.
        killed = threading.Event()
        deadline = threading.Timer(ffmpeg.timeout_for(pcm.duration_s), _kill, args=(killed, encoder, decoder))
        deadline.daemon = True
        deadline.start()
        chunks: list[bytes] = []
        decoder_alive = True
        try:
            while chunk := encoder.stdout.read(1 << 16):
                chunks.append(chunk)
                if decoder_alive:
                    try:
                        decoder.stdin.write(chunk)
                    except BrokenPipeError:
                        decoder_alive = False  # reported below from its exit status
        finally:
            _close_quietly(decoder.stdin)
            encoder_code = encoder.wait()
            decoder_code = decoder.wait()
            deadline.cancel()
            for thread in threads:
                thread.join()
        if killed.is_set():
            raise ffmpeg.FfmpegTimeout("Mã hóa âm thanh quá lâu nên đã dừng; hãy thử lại.",
                                       detail=f"encode/measure killed after {ffmpeg.timeout_for(pcm.duration_s):.0f} s")
        data = b"".join(chunks)
        if encoder_code != 0 or not data:
            raise AudioProcessingError(
                "Không mã hóa được âm thanh.", detail=b"".join(encoder_errors).decode("utf-8", "replace")[-500:]
            )
        if decoder_code != 0 or meter_failures:
            detail = repr(meter_failures[0]) if meter_failures else b"".join(decoder_errors).decode("utf-8", "replace")
            raise AudioProcessingError("Không đo được độ lớn âm thanh đã mã hóa.", detail=detail[-500:])
        return data, meter.result()

    def cancel(self) -> None:
        """Stop both processes (the render failed before it had anything to encode)."""
        _end(self.encoder)
        _end(self.decoder)


def _measure(pipe: IO[bytes], meter: StreamingMeter, failures: list[BaseException]) -> None:
    # Runs in a thread: numpy and scipy release the GIL for the filtering and the FFTs.
    leftover = b""
    try:
        while block := pipe.read(_METER_READ_BYTES):
            block = leftover + block
            whole = len(block) - len(block) % 4
            meter.feed(np.frombuffer(block[:whole], dtype="<f4"))
            leftover = block[whole:]
    except Exception as error:  # handed to the caller, which reports it as a failed measurement
        failures.append(error)
        pipe.read()  # keep draining, so the decoder is not left blocked on a full pipe


def _end(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            _close_quietly(pipe)
    process.wait()


def _kill(killed: threading.Event, *processes: subprocess.Popen[bytes]) -> None:
    killed.set()
    for process in processes:
        if process.poll() is None:
            process.kill()


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except BrokenPipeError:
        pass  # the encoder died; its exit status tells the story
    finally:
        _close_quietly(pipe)


def _drain(pipe: IO[bytes], into: list[bytes]) -> None:
    into.append(pipe.read())


def _close_quietly(pipe: IO[bytes]) -> None:
    with contextlib.suppress(BrokenPipeError):
        pipe.close()
