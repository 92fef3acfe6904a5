"""One contract for every engine: espeak for real, gtts against the local stand-in for Google, piper for
real (piper-tts, its espeak-ng phonemizer, onnxruntime) with a tiny voice built by the tests."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from broadcaster.audio.pcm import SAMPLE_RATE
from broadcaster.errors import BroadcasterError
from broadcaster.tts.base import (
    EngineError,
    NothingToSay,
    SynthesisOptions,
    TtsEngine,
    UnknownVoice,
    create_engine,
    engine_names,
)

BULLETIN = "Xin chào bà con, hôm nay xã tổ chức tiêm phòng cho đàn gia súc tại nhà văn hóa thôn."
# Every vowel with every tone mark, plus đ: the text a Vietnamese engine must not choke on.
DIACRITICS = "Ả ạ à á ã, ắ ằ ẳ ẵ ặ, ấ ầ ẩ ẫ ậ, é è ẻ ẽ ẹ, ế ề ể ễ ệ, í ì ỉ ĩ ị, ó ò ỏ õ ọ, ố ồ ổ ỗ ộ, ớ ờ ở ỡ ợ, ú ù ủ ũ ụ, ứ ừ ử ữ ự, ý ỳ ỷ ỹ ỵ, đường."


CONTRACT_ENGINES = ["espeak", "gtts", "piper"]


@pytest.fixture(params=CONTRACT_ENGINES)
def engine(request: pytest.FixtureRequest) -> TtsEngine:
    """Each registered engine, built through the registry."""
    if request.param == "gtts":
        server = request.getfixturevalue("gtts_server")
        return create_engine("gtts", base_url=server.base_url, timeout_s=2.0, retry=request.getfixturevalue("fast_retry"))
    if request.param == "piper":
        return create_engine("piper", voices_dir=request.getfixturevalue("piper_voices"))
    return create_engine(request.param)


def test_every_builtin_engine_is_covered_by_this_contract() -> None:
    assert set(engine_names()) == set(CONTRACT_ENGINES)


def test_speaks_mono_pcm_at_the_pipeline_rate(engine: TtsEngine) -> None:
    pcm = engine.synthesize(BULLETIN, SynthesisOptions())
    assert pcm.sample_rate == SAMPLE_RATE
    assert pcm.samples.ndim == 1 and pcm.samples.dtype == np.float32
    assert np.max(np.abs(pcm.samples)) > 0.05  # real sound, not near-silence
    assert np.max(np.abs(pcm.samples)) <= 1.0


def test_duration_is_plausible_for_the_text(engine: TtsEngine) -> None:
    syllables = len(BULLETIN.split())
    pcm = engine.synthesize(BULLETIN, SynthesisOptions())
    # Speech runs at 2-7 syllables per second; allow pauses and padding on top.
    assert syllables / 7 < pcm.duration_s < syllables / 2 + 1.5


def test_longer_text_takes_longer(engine: TtsEngine) -> None:
    short = engine.synthesize("Xin chào bà con.", SynthesisOptions())
    long = engine.synthesize(BULLETIN, SynthesisOptions())
    assert long.duration_s > 2 * short.duration_s


def test_handles_vietnamese_diacritics_in_nfc_and_nfd(engine: TtsEngine) -> None:
    composed = engine.synthesize(unicodedata.normalize("NFC", DIACRITICS), SynthesisOptions())
    decomposed = engine.synthesize(unicodedata.normalize("NFD", DIACRITICS), SynthesisOptions())
    assert composed.duration_s > 2.0
    assert decomposed.duration_s > 2.0


def test_unknown_voice_is_an_engine_error_with_a_vietnamese_message(engine: TtsEngine) -> None:
    with pytest.raises(UnknownVoice) as caught:
        engine.synthesize(BULLETIN, SynthesisOptions(voice="klingon-x-imperial"))
    assert isinstance(caught.value, EngineError)
    assert "giọng" in caught.value.message
    assert caught.value.code == "tts_unknown_voice"


def test_punctuation_alone_is_an_engine_error_not_silence(engine: TtsEngine) -> None:
    with pytest.raises(EngineError):
        engine.synthesize("... ?", SynthesisOptions())


@pytest.mark.parametrize("blank", ["", "   \n\t "])
def test_blank_text_is_invalid_input(engine: TtsEngine, blank: str) -> None:
    with pytest.raises(NothingToSay):
        engine.synthesize(blank, SynthesisOptions())


def test_failures_are_broadcaster_errors_never_raw_exceptions(engine: TtsEngine) -> None:
    for text, voice in [("\x00\x01", None), ("x" * 500, None), ("Xin chào", "../../etc/passwd")]:
        try:
            engine.synthesize(text, SynthesisOptions(voice=voice))
        except Exception as exc:  # the point: anything raised must be one of ours
            assert isinstance(exc, BroadcasterError), f"{type(exc).__name__}: {exc}"


def test_same_text_gives_the_same_length(engine: TtsEngine) -> None:
    if engine.online:
        pytest.skip("a real online voice need not repeat itself exactly")
    first = engine.synthesize(BULLETIN, SynthesisOptions())
    engine.synthesize("Một câu khác ở giữa, để trạng thái thư viện thay đổi.", SynthesisOptions(rate=1.3))
    again = engine.synthesize(BULLETIN, SynthesisOptions())
    assert len(first.samples) == len(again.samples)


def test_lists_its_voices_with_at_least_one_usable(engine: TtsEngine) -> None:
    listings = engine.list_voices()
    assert {listing.engine for listing in listings} == {engine.name}
    usable = [listing for listing in listings if listing.usable]
    assert usable and engine.default_voice() in {listing.name for listing in usable}
    for listing in usable:  # every listed usable voice speaks
        assert listing.choice == f"{engine.name}:{listing.name}"
        assert engine.synthesize("Xin chào.", SynthesisOptions(voice=listing.name)).duration_s > 0.2
