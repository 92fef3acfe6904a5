"""The piper engine on the real code path: piper-tts's PiperVoice, its espeak-ng phonemizer and onnxruntime,
running a tiny voice of the real format that the tests build (tests/fakes/piper_voice.py)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from broadcaster.audio.pcm import SAMPLE_RATE
from broadcaster.tts.base import EngineUnavailable, SynthesisOptions, UnknownVoice, create_engine
from broadcaster.tts.espeak import EspeakEngine
from broadcaster.tts.piper import PiperEngine
from broadcaster.tts.piper_voices import VoiceFileProblem, VoiceFiles, loader
from tests.fakes.piper_voice import DEFAULT_SAMPLES_PER_ID, VIETNAMESE_PHONEMES, phoneme_id_map, write_voice

VOICE = "vi_VN-test-x_low"
SENTENCE = "Xin chào bà con, hôm nay xã tổ chức tiêm phòng cho đàn gia súc."

_INITIALS = "b c ch d đ g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x"
_RHYMES = (
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iêu iu oa oe oi ôi ơi ua uê ui uô ưa ưi ươ ưu uy uyê"
    " ac ach am an ang anh ap at ăc ăm ăn ăng ăp ăt âc âm ân âng âp ât ec em en eng ep et êch êm ên ênh êp êt"
    " ich im in inh ip it iêc iêm iên iêng iêp iêt oc om on ong op ot ôc ôm ôn ông ôp ôt ơm ơn ơp ơt uc um un"
    " ung up ut uôc uôm uôn uông uôt ưc ưng ưt ươc ươm ươn ương ươp ươt oac oach oan oang oanh oat oăc oăn"
    " oăng oăt uân uât uyên uyêt uynh uych"
)
_TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]


def coverage_text() -> str:
    """Every initial, every rhyme with every tone, digits, units and the loanwords bulletins contain."""
    rhymes = _RHYMES.split()
    words = [initial + rhyme for initial in _INITIALS.split() for rhyme in rhymes[:12]]
    for rhyme in rhymes:
        decomposed = unicodedata.normalize("NFD", "b" + rhyme)
        for tone in _TONES:
            words.append(unicodedata.normalize("NFC", decomposed[:2] + tone + decomposed[2:]))
    return (
        " ".join(words)
        + ". Số 0 1 2 3 4 5 6 7 8 9, 10%; 25°C: km! Vì sao? COVID-19, Wi-Fi, email, Internet, Facebook, Zalo."
    )


def ids_of(engine: PiperEngine, text: str) -> list[list[int]]:
    """The phoneme ids Piper gives the model for each sentence of ``text``."""
    voice = loader().get(VoiceFiles.of(engine.voices_dir, VOICE)).piper
    return [voice.phonemes_to_ids(phonemes) for phonemes in voice.phonemize(text) if phonemes]


def test_the_voice_config_maps_every_phoneme_espeak_emits_for_vietnamese(
    piper_voices: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = PiperEngine(voices_dir=piper_voices)
    voice = loader().get(VoiceFiles.of(piper_voices, VOICE)).piper
    emitted = {p for sentence in voice.phonemize(coverage_text()) for p in sentence}
    assert emitted == set(VIETNAMESE_PHONEMES)  # nothing missing, and nothing listed that never occurs
    with caplog.at_level(logging.WARNING):
        engine.synthesize(coverage_text(), SynthesisOptions())
    assert not [r for r in caplog.records if "phoneme" in r.getMessage().lower()]


def test_a_voice_map_lacking_phonemes_is_named_once_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = json.loads(Path(f"{write_voice(tmp_path / 'v')}.json").read_text(encoding="utf-8"))
    config["phoneme_id_map"] = phoneme_id_map([p for p in VIETNAMESE_PHONEMES if p not in ("ŋ", "ɗ")])
    write_voice(tmp_path / "v", config=config)
    engine = PiperEngine(voices_dir=tmp_path / "v")
    with caplog.at_level(logging.WARNING, logger="broadcaster.tts.piper"):
        engine.synthesize("Đường làng ngõ xóm.", SynthesisOptions())
        engine.synthesize("Đường làng ngõ xóm.", SynthesisOptions())
    ours = [r.getMessage() for r in caplog.records if r.name == "broadcaster.tts.piper"]
    assert len(ours) == 1 and VOICE in ours[0] and "'ŋ'" in ours[0] and "'ɗ'" in ours[0]


def test_the_model_gets_piper_phoneme_ids_and_its_output_length_follows_them(piper_voices: Path) -> None:
    engine = PiperEngine(voices_dir=piper_voices)
    (ids,) = ids_of(engine, SENTENCE)
    assert ids[0] == phoneme_id_map()["^"][0] and ids[-1] == phoneme_id_map()["$"][0]
    pcm = engine.synthesize(SENTENCE, SynthesisOptions())
    assert pcm.sample_rate == SAMPLE_RATE
    assert len(pcm.samples) == len(ids) * DEFAULT_SAMPLES_PER_ID
    # The tone of each id segment is the model's (base + step × id): the mapping reached the model.
    segment = pcm.samples[DEFAULT_SAMPLES_PER_ID * 3 : DEFAULT_SAMPLES_PER_ID * 4]
    crossings = np.count_nonzero(np.diff(np.signbit(segment)))
    expected_hz = 180.0 + 9.0 * ids[3]
    assert abs(crossings / 2 / (DEFAULT_SAMPLES_PER_ID / SAMPLE_RATE) - expected_hz) < 0.1 * expected_hz


def test_the_speaking_rate_sets_piper_length_scale(piper_voices: Path) -> None:
    engine = PiperEngine(voices_dir=piper_voices)
    (ids,) = ids_of(engine, SENTENCE)
    slower = engine.synthesize(SENTENCE, SynthesisOptions(rate=0.8))
    faster = engine.synthesize(SENTENCE, SynthesisOptions(rate=1.25))
    assert len(slower.samples) == int(len(ids) * DEFAULT_SAMPLES_PER_ID / 0.8)
    assert len(faster.samples) == int(len(ids) * DEFAULT_SAMPLES_PER_ID / 1.25)


def test_a_voice_at_16_khz_is_resampled_to_the_pipeline_rate(tmp_path: Path) -> None:
    write_voice(tmp_path, "vi_VN-vivos-test", sample_rate=16000)
    engine = PiperEngine(voices_dir=tmp_path)
    (ids,) = ids_of_voice(tmp_path, "vi_VN-vivos-test", SENTENCE)
    pcm = engine.synthesize(SENTENCE, SynthesisOptions(voice="vi_VN-vivos-test"))
    assert pcm.sample_rate == SAMPLE_RATE
    assert len(pcm.samples) == pytest.approx(len(ids) * DEFAULT_SAMPLES_PER_ID * SAMPLE_RATE / 16000, abs=2)


def ids_of_voice(directory: Path, name: str, text: str) -> list[list[int]]:
    voice = loader().get(VoiceFiles.of(directory, name)).piper
    return [voice.phonemes_to_ids(phonemes) for phonemes in voice.phonemize(text) if phonemes]


def test_the_default_voice_is_the_first_usable_one_vietnamese_first(tmp_path: Path) -> None:
    write_voice(tmp_path, "en_US-test-low")
    (tmp_path / "vi_VN-aaa-broken.onnx").write_bytes(b"not a model")
    shutil.copy(tmp_path / "en_US-test-low.onnx.json", tmp_path / "vi_VN-aaa-broken.onnx.json")
    write_voice(tmp_path, "vi_VN-zzz-good")
    assert PiperEngine(voices_dir=tmp_path).default_voice() == "vi_VN-zzz-good"
    assert PiperEngine(voices_dir=tmp_path, voice="en_US-test-low").default_voice() == "en_US-test-low"


def test_without_any_voice_the_engine_is_unavailable_and_says_where_to_copy_one(tmp_path: Path) -> None:
    engine = PiperEngine(voices_dir=tmp_path / "voices")
    with pytest.raises(EngineUnavailable) as caught:
        engine.synthesize(SENTENCE, SynthesisOptions())
    assert str((tmp_path / "voices").resolve()) in caught.value.message
    assert ".onnx.json" in caught.value.message


def test_a_voice_is_loaded_once_per_process_and_shared_by_engines(piper_voices: Path) -> None:
    files = VoiceFiles.of(piper_voices, VOICE)
    create_engine("piper", voices_dir=piper_voices).synthesize(SENTENCE, SynthesisOptions())
    first = loader().get(files)
    create_engine("piper", voices_dir=piper_voices).synthesize(SENTENCE, SynthesisOptions())
    assert loader().get(files) is first


def test_a_replaced_model_is_loaded_afresh_and_changes_the_voice_identity(piper_voices: Path) -> None:
    engine = PiperEngine(voices_dir=piper_voices)
    before = engine.synthesize(SENTENCE, SynthesisOptions())
    identity = engine.voice_identity(VOICE)
    write_voice(piper_voices, VOICE, base_hz=300.0)  # same name, same size class, another model
    after = engine.synthesize(SENTENCE, SynthesisOptions())
    assert engine.voice_identity(VOICE)["model_sha256"] != identity["model_sha256"]
    assert engine.voice_identity(VOICE)["config_sha256"] == identity["config_sha256"]
    assert len(after.samples) == len(before.samples) and not np.allclose(after.samples, before.samples)


@pytest.mark.parametrize("voice", ["../voices/vi_VN-test-x_low", "/etc/passwd", "a/b", "..", ""])
def test_voice_names_cannot_reach_outside_the_voices_dir(piper_voices: Path, voice: str) -> None:
    with pytest.raises(UnknownVoice):
        PiperEngine(voices_dir=piper_voices / "sub").synthesize(SENTENCE, SynthesisOptions(voice=voice or "-"))


def test_threads_share_one_voice_and_get_what_one_thread_gets(piper_voices: Path) -> None:
    texts = [SENTENCE, "Trân trọng thông báo.", "Mời bà con đến họp lúc bảy giờ tối.", "Đường làng ngõ xóm."]
    piper = PiperEngine(voices_dir=piper_voices)
    espeak = EspeakEngine()
    expected = [piper.synthesize(text, SynthesisOptions()).samples for text in texts]
    espeak_expected = len(espeak.synthesize(texts[1], SynthesisOptions()).samples)
    start = threading.Barrier(6)

    def speak(index: int) -> tuple[int, np.ndarray]:
        start.wait() if index < 6 else None
        if index % 5 == 4:  # the other espeak-ng copy (libespeak-ng via ctypes) at the same time
            return -1, espeak.synthesize(texts[1], SynthesisOptions()).samples
        engine = PiperEngine(voices_dir=piper_voices)  # fresh engines, one shared loaded voice
        return index % 4, engine.synthesize(texts[index % 4], SynthesisOptions()).samples

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(speak, range(30)))
    for which, samples in results:
        if which < 0:
            assert len(samples) == espeak_expected
        else:
            np.testing.assert_array_equal(samples, expected[which])


def test_a_real_voice_speaks_a_bulletin_when_one_is_configured() -> None:
    """Set BROADCASTER_TEST_PIPER_VOICE=/path/to/vi_VN-vais1000-medium.onnx to run it."""
    configured = os.environ.get("BROADCASTER_TEST_PIPER_VOICE")
    if not configured:
        pytest.skip("BROADCASTER_TEST_PIPER_VOICE is not set (no real Piper voice here)")
    model = Path(configured)
    name = model.name.removesuffix(".onnx")
    engine = PiperEngine(voices_dir=model.parent, voice=name)
    listing = next(v for v in engine.list_voices() if v.name == name)
    assert listing.usable, listing.problem
    syllables = len(SENTENCE.split())
    pcm = engine.synthesize(SENTENCE, SynthesisOptions())
    assert pcm.sample_rate == SAMPLE_RATE
    assert syllables / 7 < pcm.duration_s < syllables / 2 + 1.5
    assert float(np.sqrt(np.mean(np.square(pcm.samples)))) > 0.01  # speech, not a whisper or silence
    slower = engine.synthesize(SENTENCE, SynthesisOptions(rate=0.8))
    assert slower.duration_s > pcm.duration_s * 1.1


def test_a_config_that_needs_the_internet_is_refused(tmp_path: Path) -> None:
    config = json.loads(Path(f"{write_voice(tmp_path)}.json").read_text(encoding="utf-8"))
    write_voice(tmp_path, config={**config, "phoneme_type": "pinyin"})
    with pytest.raises(VoiceFileProblem) as caught:
        PiperEngine(voices_dir=tmp_path).synthesize(SENTENCE, SynthesisOptions(voice=VOICE))
    assert f"{VOICE}.onnx.json" in caught.value.message and "Internet" in caught.value.message
