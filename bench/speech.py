"""Speech-pipeline benchmark: `say` cold vs raw espeak-ng + ffmpeg, cache hit vs miss, normalization speed,
and the Piper engine's real-time factor and pipeline overhead.

Run: .venv/bin/python bench/speech.py   (writes bench/results/speech.json; needs the test extras for onnx)

Target: a cold `say` of a ~60 s bulletin takes at most 2x the raw baseline (the same text spoken by
libespeak-ng with no normalization, then one plain ffmpeg MP3 encode).

Piper is measured with the tests' tiny voice (its model is a tone generator, so its figures are
Piper's phonemizer, onnxruntime and our pipeline, not a neural network) and, when
BROADCASTER_BENCH_PIPER_VOICE (or BROADCASTER_TEST_PIPER_VOICE) names a real ``<voice>.onnx``, with that voice.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import write_results  # noqa: E402
from broadcaster.audio.codec import ffmpeg_exe  # noqa: E402
from broadcaster.audio.levelling import level  # noqa: E402
from broadcaster.audio.loudness import encode_and_measure  # noqa: E402
from broadcaster.audio.pcm import Pcm  # noqa: E402
from broadcaster.config import load_settings  # noqa: E402
from broadcaster.speech import SENTENCE_MAX_CHARS, SpeechService  # noqa: E402
from broadcaster.text import measure_throughput, split_sentences  # noqa: E402
from broadcaster.tts.base import SynthesisOptions, create_engine  # noqa: E402
from broadcaster.tts.piper import PiperEngine  # noqa: E402

# About one minute when read: a typical commune bulletin with dates, times, numbers and abbreviations.
BULLETIN_60S = (
    "UBND xã An Bình thông báo. Thực hiện Kế hoạch số 45/KH-UBND ngày 05/01/2026 của UBND huyện, "
    "Trạm Y tế xã tổ chức tiêm vắc-xin sởi, rubella cho trẻ từ 9 tháng đến 5 tuổi. "
    "Thời gian từ 7h30 đến 11h và từ 13h30 đến 17h, thứ 7 ngày 15/12 và chủ nhật ngày 16/12/2026, "
    "tại nhà văn hóa thôn Đông và thôn Đoài. Dự kiến có 1.250 trẻ được tiêm, đạt 98,5% kế hoạch. "
    "Đề nghị các bậc phụ huynh mang theo sổ tiêm chủng và thẻ BHYT của trẻ. "
    "Dự báo nhiệt độ từ 18 đến 22°C, có mưa 10 đến 20mm, bà con nhớ mang áo mưa. "
    "Mọi thắc mắc xin liên hệ số điện thoại 0912 345 678 hoặc đường dây nóng 115. "
    "Xin trân trọng thông báo."
)
ROUNDS = 7


def cpu_seconds() -> float:
    """CPU time so far of this process (all threads) and of its finished children (the ffmpegs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def raw_baseline(text: str, workdir: Path) -> float:
    """Seconds for libespeak-ng on the raw text plus one plain ffmpeg MP3 encode (no levelling, no cache)."""
    engine = create_engine("espeak")
    started = time.perf_counter()
    pcm = engine.synthesize(text, SynthesisOptions())
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "s16le", "-ar", str(pcm.sample_rate),
         "-ac", "1", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", "64k", str(workdir / "raw.mp3")],
        input=pcm.to_int16(), check=True,
    )
    return time.perf_counter() - started


def say_cold_and_warm(text: str, workdir: Path) -> tuple[float, float, float, float]:
    """Seconds for a cold render (empty cache), a cache hit, the audio's duration, and the cold render's CPU."""
    speech = SpeechService(load_settings(cache_dir=workdir / "cache", data_dir=workdir / "data"))
    speech.render_text("Khởi động.")  # load the engine library once, as a running server would have
    started_cpu, started = cpu_seconds(), time.perf_counter()
    cold = speech.render_text(text)
    cold_s = time.perf_counter() - started
    cold_cpu_s = cpu_seconds() - started_cpu
    started = time.perf_counter()
    warm = speech.render_text(text)
    warm_s = time.perf_counter() - started
    assert not cold.cache_hit and warm.cache_hit
    return cold_s, warm_s, cold.duration_s, cold_cpu_s


def stage_seconds(text: str, workdir: Path) -> dict[str, float]:
    """Wall and CPU seconds of a cold render's stages, run one after another (medians over ROUNDS)."""
    speech = SpeechService(load_settings(cache_dir=workdir / "stages", data_dir=workdir / "data"))
    engine = create_engine("espeak")
    sentences = split_sentences(speech.spoken_form(text), max_chars=SENTENCE_MAX_CHARS)
    pieces: list[Pcm] = []
    body: list[Pcm] = []
    stages = {
        "normalize": lambda: speech.spoken_form(text),
        "synthesize": lambda: pieces.__setitem__(slice(None), [engine.synthesize(s, SynthesisOptions())
                                                              for s in sentences]),
        "level": lambda: body.__setitem__(slice(None), [level(pieces[0].concat(*pieces[1:]), -15.7).pcm]),
        "encode_and_measure": lambda: encode_and_measure(body[0], "mp3", "64k"),
    }
    wall: dict[str, list[float]] = {name: [] for name in stages}
    cpu: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(ROUNDS):
        for name, action in stages.items():
            started_cpu, started = cpu_seconds(), time.perf_counter()
            action()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(cpu_seconds() - started_cpu)
    return {f"{name}_{kind}_s": round(statistics.median(values[name]), 4)
            for name in stages for kind, values in (("wall", wall), ("cpu", cpu))}


def piper_figures(model: Path, workdir: Path, rounds: int) -> dict[str, float]:
    """Piper with the voice ``model``: real-time factor of the bare engine, and `say` cold against it."""
    name = model.name.removesuffix(".onnx")
    engine = PiperEngine(voices_dir=model.parent, voice=name)

    def speech_service(index: int) -> SpeechService:
        return SpeechService(load_settings(cache_dir=workdir / f"cache{index}", data_dir=workdir / "data",
                                           engines=["piper"], voices_dir=model.parent, piper_voice=name))

    spoken = speech_service(-1).spoken_form(BULLETIN_60S)
    speech_service(-1).render_text("Khởi động.")  # the voice is loaded once per process, as in a server
    engine_s, cold_s, audio_s = [], [], []
    for index in range(rounds):
        started = time.perf_counter()
        pcm = engine.synthesize(spoken, SynthesisOptions())
        engine_s.append(time.perf_counter() - started)
        audio_s.append(pcm.duration_s)
        speech = speech_service(index)  # an empty cache each round
        started = time.perf_counter()
        cold = speech.render_text(BULLETIN_60S)
        cold_s.append(time.perf_counter() - started)
        assert not cold.cache_hit and cold.engine == "piper"
    engine_median, cold_median = statistics.median(engine_s), statistics.median(cold_s)
    return {
        "speech_s": round(statistics.median(audio_s), 2),
        "engine_s": round(engine_median, 4),
        "real_time_factor": round(engine_median / statistics.median(audio_s), 4),
        "say_cold_s": round(cold_median, 4),
        "say_cold_over_engine": round(cold_median / engine_median, 2),
        "pipeline_overhead_s": round(cold_median - engine_median, 4),
    }


def test_voice(workdir: Path) -> Path | None:
    """The tests' tiny Piper voice, written into ``workdir`` (None without the test extras)."""
    try:
        from tests.fakes.piper_voice import write_voice
    except ImportError:
        return None
    return write_voice(workdir / "voices")


def main() -> None:
    """Run every measurement ROUNDS times and write the medians."""
    load_before = os.getloadavg()
    raw, cold, warm, durations, raw_cpu, cold_cpu = [], [], [], [], [], []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            started_cpu = cpu_seconds()
            raw.append(raw_baseline(BULLETIN_60S, workdir))
            raw_cpu.append(cpu_seconds() - started_cpu)
            cold_s, warm_s, duration, cpu_s = say_cold_and_warm(BULLETIN_60S, workdir)
            cold_cpu.append(cpu_s)
            cold.append(cold_s)
            warm.append(warm_s)
            durations.append(duration)
    load_after = os.getloadavg()
    throughput = measure_throughput(rounds=200)
    raw_median, cold_median = statistics.median(raw), statistics.median(cold)
    results: dict[str, object] = {
        "bulletin_audio_s": round(statistics.median(durations), 2),
        "raw_espeak_plus_ffmpeg_s": round(raw_median, 4),
        "say_cold_s": round(cold_median, 4),
        "say_cold_over_raw": round(cold_median / raw_median, 2),
        "say_cold_over_raw_rounds": [round(c / r, 2) for c, r in zip(cold, raw, strict=True)],
        "target_say_cold_over_raw": 2.0,
        "raw_cpu_s": round(statistics.median(raw_cpu), 4),
        "say_cold_cpu_s": round(statistics.median(cold_cpu), 4),
        "say_cold_cpu_over_raw_cpu": round(statistics.median(cold_cpu) / statistics.median(raw_cpu), 2),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "cache_miss_s": round(cold_median, 4),
        "cache_hit_s": round(statistics.median(warm), 5),
        "cache_miss_over_hit": round(cold_median / statistics.median(warm), 1),
        "normalize_chars_per_s": round(throughput.characters_per_second),
        "rounds": ROUNDS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["stages"] = stage_seconds(BULLETIN_60S, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        model = test_voice(Path(tmp))
        results["piper_test_voice"] = (
            piper_figures(model, Path(tmp), ROUNDS) if model else "not measured: onnx (test extras) missing"
        )
        real = os.environ.get("BROADCASTER_BENCH_PIPER_VOICE") or os.environ.get("BROADCASTER_TEST_PIPER_VOICE")
        results["piper_real_voice"] = (
            {"voice": Path(real).name, **piper_figures(Path(real), Path(tmp) / "real", ROUNDS)}
            if real else "not measured: no real voice configured (BROADCASTER_BENCH_PIPER_VOICE)"
        )
    write_results("speech", results)


if __name__ == "__main__":
    main()
