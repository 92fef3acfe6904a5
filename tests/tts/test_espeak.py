"""The espeak engine with the real bundled libespeak-ng: voices, rate, determinism, thread safety."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from broadcaster.errors import InvalidInput
from broadcaster.tts.base import EngineError, InvalidRate, SynthesisOptions, UnknownVoice
from broadcaster.tts.espeak import ANNOUNCER_WPM, EspeakEngine, available_voices

SENTENCE = "Thông báo của Ủy ban nhân dân xã về việc tiêm phòng vắc xin cho đàn gia súc, gia cầm vụ xuân."


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    """One engine for the module: the library behind it is process-wide anyway."""
    return EspeakEngine()


def test_the_vietnamese_voices_are_there() -> None:
    codes = {code for voice in available_voices() for code in voice.languages}
    assert {"vi", "vi-vn-x-central", "vi-vn-x-south"} <= codes


def same_speech(a: np.ndarray, b: np.ndarray) -> bool:
    """Same length and (nearly) the same samples: libespeak-ng's roughness state varies them a little."""
    return len(a) == len(b) and float(np.corrcoef(a, b)[0, 1]) > 0.9


def test_default_voice_is_northern_vietnamese(espeak: EspeakEngine) -> None:
    assert espeak.default_voice() == "vi"
    default = espeak.synthesize(SENTENCE, SynthesisOptions())
    explicit = espeak.synthesize(SENTENCE, SynthesisOptions(voice="vi"))
    southern = espeak.synthesize(SENTENCE, SynthesisOptions(voice="vi-vn-x-south"))
    assert same_speech(default.samples, explicit.samples)
    assert not same_speech(default.samples, southern.samples)


@pytest.mark.parametrize("voice", ["vi-vn-x-south", "vi-vn-x-central", "vi+f3", "VI-VN-X-SOUTH", "aav/vi"])
def test_other_voices_are_selectable(espeak: EspeakEngine, voice: str) -> None:
    northern = espeak.synthesize(SENTENCE, SynthesisOptions())
    other = espeak.synthesize(SENTENCE, SynthesisOptions(voice=voice))
    assert other.duration_s > 1.0
    # "aav/vi" is the identifier of the northern voice itself.
    assert same_speech(northern.samples, other.samples) == (voice == "aav/vi")


@pytest.mark.parametrize("voice", ["xx-unknown", "vi+no-such-variant", "../vi", "vi+../../f3", "vi;rm"])
def test_unknown_voices_are_refused_with_the_choices(espeak: EspeakEngine, voice: str) -> None:
    with pytest.raises(UnknownVoice) as caught:
        espeak.synthesize(SENTENCE, SynthesisOptions(voice=voice))
    error = caught.value
    assert isinstance(error, EngineError) and isinstance(error, InvalidInput)
    assert error.status == 422
    assert voice in error.message and "vi-vn-x-south" in error.message


def test_rate_scales_the_pace(espeak: EspeakEngine) -> None:
    slow = espeak.synthesize(SENTENCE, SynthesisOptions(rate=0.7)).duration_s
    normal = espeak.synthesize(SENTENCE, SynthesisOptions()).duration_s
    fast = espeak.synthesize(SENTENCE, SynthesisOptions(rate=1.5)).duration_s
    assert slow > normal * 1.2
    assert fast < normal / 1.2


def test_announcer_pace_is_slower_than_espeaks_default(espeak: EspeakEngine) -> None:
    syllables = len(SENTENCE.split())
    pace = syllables / espeak.synthesize(SENTENCE, SynthesisOptions()).duration_s
    default_pace = syllables / EspeakEngine(wpm=175).synthesize(SENTENCE, SynthesisOptions()).duration_s
    assert ANNOUNCER_WPM < 175
    assert 3.0 < pace < default_pace


@pytest.mark.parametrize("rate", [0.0, 0.3, 2.5, float("nan")])
def test_nonsense_rates_are_refused_before_any_engine_sees_them(rate: float) -> None:
    with pytest.raises(InvalidRate):
        SynthesisOptions(rate=rate)


@pytest.mark.parametrize("voice", ["vi", "vi+f3"])
def test_the_same_text_always_has_the_same_length(espeak: EspeakEngine, voice: str) -> None:
    # Without the steady voice files the library's flutter state changed the length on each call.
    lengths = set()
    for other_rate in (0.8, 1.0, 1.4):
        lengths.add(len(espeak.synthesize(SENTENCE, SynthesisOptions(voice=voice)).samples))
        espeak.synthesize("Một câu khác ở giữa.", SynthesisOptions(voice="vi-vn-x-south", rate=other_rate))
    assert len(lengths) == 1


def test_nothing_important_is_trimmed(espeak: EspeakEngine) -> None:
    pcm = espeak.synthesize("Xin chào bà con.", SynthesisOptions())
    loud = np.nonzero(np.abs(pcm.samples) > 0.01)[0]
    # Speech starts near the beginning and ends before espeak's own sentence pause.
    assert loud[0] / pcm.sample_rate < 0.2
    assert (len(pcm.samples) - loud[-1]) / pcm.sample_rate > 0.1


def test_many_threads_get_the_same_audio_as_one_thread(espeak: EspeakEngine) -> None:
    jobs = [
        (text, SynthesisOptions(voice=voice, rate=rate))
        for text in [SENTENCE, "Xin chào bà con.", "Sáng mai mất điện từ bảy giờ đến mười giờ."]
        for voice, rate in [("vi", 1.0), ("vi-vn-x-south", 1.3), ("vi+f3", 0.8)]
    ]
    expected = [espeak.synthesize(text, options).samples for text, options in jobs]
    start_together = threading.Barrier(8)

    def run(index: int) -> list[tuple[int, np.ndarray]]:
        start_together.wait()
        order = jobs[index % len(jobs) :] + jobs[: index % len(jobs)]  # each thread in a different order
        return [(jobs.index(job), espeak.synthesize(*job).samples) for job in order * 3]

    with ThreadPoolExecutor(8) as pool:
        results = [item for chunk in pool.map(run, range(8)) for item in chunk]
    assert len(results) == 8 * 3 * len(jobs)
    for job_index, samples in results:
        assert same_speech(samples, expected[job_index])


def test_many_engines_share_one_library_safely() -> None:
    engines = [EspeakEngine(voice="vi"), EspeakEngine(voice="vi-vn-x-south")]
    expected = [engine.synthesize(SENTENCE, SynthesisOptions()).samples for engine in engines]
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda i: engines[i % 2].synthesize(SENTENCE, SynthesisOptions()).samples, range(16)))
    for index, samples in enumerate(outputs):
        assert same_speech(samples, expected[index % 2])
