"""Broken or missing Piper voices: espeak reads instead, and the reason names the file and what is wrong.
Also the cache: a replaced model file is rendered afresh, never served from the old model's audio."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.config import Settings, load_settings
from broadcaster.speech import SpeechService
from broadcaster.tts.base import UnknownVoice
from broadcaster.tts.catalogue import check_choice, list_voices
from broadcaster.tts.chain import EngineChain
from broadcaster.tts.espeak import EspeakEngine
from broadcaster.tts.piper import PiperEngine
from tests.fakes.piper_voice import voice_config, write_voice

VOICE = "vi_VN-test-x_low"
SENTENCES = ["Xin chào bà con.", "Trân trọng thông báo."]


def _missing_model(voices: Path) -> None:
    (voices / f"{VOICE}.onnx").unlink()


def _missing_config(voices: Path) -> None:
    (voices / f"{VOICE}.onnx.json").unlink()


def _corrupt_model(voices: Path) -> None:
    model = voices / f"{VOICE}.onnx"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # a copy cut short


def _rate(value: object) -> Callable[[Path], None]:
    def rewrite(voices: Path) -> None:
        config = voice_config()
        config["audio"]["sample_rate"] = value
        (voices / f"{VOICE}.onnx.json").write_text(json.dumps(config), encoding="utf-8")

    return rewrite


def _not_json(voices: Path) -> None:
    (voices / f"{VOICE}.onnx.json").write_text('{"audio": {"sample_rate": 22050},', encoding="utf-8")


def _not_a_piper_model(voices: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(voices / f"{VOICE}.onnx"))


BREAKAGES = {
    "missing model": (_missing_model, [f"{VOICE}.onnx", "Thiếu tệp mô hình"]),
    "missing json": (_missing_config, [f"{VOICE}.onnx.json", "Thiếu tệp cấu hình"]),
    "corrupt onnx": (_corrupt_model, [f"{VOICE}.onnx", "hỏng"]),
    "sample rate zero": (_rate(0), [f"{VOICE}.onnx.json", "audio.sample_rate", "= 0"]),
    "sample rate as text": (_rate("22050"), [f"{VOICE}.onnx.json", "audio.sample_rate"]),
    "sample rate absurd": (_rate(441000), [f"{VOICE}.onnx.json", "audio.sample_rate", "441000"]),
    "sample rate missing": (_rate(None), [f"{VOICE}.onnx.json", "audio.sample_rate", "thiếu"]),
    "json syntax": (_not_json, [f"{VOICE}.onnx.json", "JSON", "dòng 1"]),
    "other onnx model": (_not_a_piper_model, [f"{VOICE}.onnx", "không phải giọng Piper", "scales"]),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_an_unusable_voice_falls_back_to_espeak_naming_the_file(piper_voices: Path, breakage: str) -> None:
    damage, expected = BREAKAGES[breakage]
    damage(piper_voices)
    chain = EngineChain([PiperEngine(voices_dir=piper_voices, voice=VOICE), EspeakEngine()])
    result = chain.synthesize(SENTENCES)
    assert result.engine == "espeak"
    ((engine, reason),) = result.failures
    assert engine == "piper"
    for words in expected:
        assert words in reason, reason


def test_an_unusable_voice_is_skipped_for_a_usable_one_when_none_is_configured(piper_voices: Path) -> None:
    write_voice(piper_voices, "vi_VN-aaa-x_low")
    _corrupt_model_named(piper_voices, "vi_VN-aaa-x_low")
    result = EngineChain([PiperEngine(voices_dir=piper_voices), EspeakEngine()]).synthesize(SENTENCES)
    assert (result.engine, result.voice, result.failures) == ("piper", VOICE, [])


def _corrupt_model_named(voices: Path, name: str) -> None:
    (voices / f"{name}.onnx").write_bytes(b"\x08\x07garbage")


@pytest.fixture
def speech(tmp_path: Path, piper_voices: Path) -> SpeechService:
    return SpeechService(_settings(tmp_path, piper_voices))


def _settings(tmp_path: Path, voices: Path) -> Settings:
    return load_settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", voices_dir=voices)


def test_a_replaced_model_renders_afresh_and_the_old_audio_is_never_served(
    speech: SpeechService, piper_voices: Path, tmp_path: Path
) -> None:
    text = "Thông báo cắt điện thôn Đông."
    original = piper_voices / f"{VOICE}.onnx"
    kept = tmp_path / "original.onnx"
    shutil.copy(original, kept)
    first = speech.render_text(text, fmt="wav")
    assert (first.engine, first.cache_hit) == ("piper", False)
    assert speech.render_text(text, fmt="wav").cache_hit

    write_voice(piper_voices, VOICE, base_hz=260.0)  # the operator copies in another model, same name
    second = speech.render_text(text, fmt="wav")
    assert (second.engine, second.cache_hit) == ("piper", False)
    assert second.sha256 != first.sha256

    shutil.copy(kept, original)  # the old model back: its audio is still valid, and found again
    again = speech.render_text(text, fmt="wav")
    assert again.cache_hit and again.sha256 == first.sha256


def test_a_changed_voice_config_renders_afresh(speech: SpeechService, piper_voices: Path) -> None:
    text = "Họp dân lúc bảy giờ tối."
    first = speech.render_text(text, fmt="wav")
    slower = voice_config(inference={"noise_scale": 0.667, "length_scale": 1.2, "noise_w": 0.8})
    (piper_voices / f"{VOICE}.onnx.json").write_text(json.dumps(slower), encoding="utf-8")
    second = speech.render_text(text, fmt="wav")
    assert not second.cache_hit and second.duration_s > first.duration_s * 1.1


def test_the_commune_rate_reaches_piper_and_is_part_of_the_key(speech: SpeechService) -> None:
    text = "Họp dân lúc bảy giờ tối."
    normal = speech.render_text(text, fmt="wav")
    slow = speech.render_text(text, fmt="wav", rate=0.8)
    assert not slow.cache_hit and slow.duration_s == pytest.approx(normal.duration_s / 0.8, rel=0.05)


def test_a_chosen_voice_goes_first_and_the_chain_still_reads_when_it_is_gone(
    speech: SpeechService, piper_voices: Path
) -> None:
    text = "Mời bà con đi tiêm phòng."
    south = speech.render_text(text, fmt="wav", voice="espeak:vi-vn-x-south")
    assert (south.engine, south.voice, south.failures) == ("espeak", "vi-vn-x-south", ())
    piper = speech.render_text(text, fmt="wav", voice=f"piper:{VOICE}")
    assert (piper.engine, piper.voice) == ("piper", VOICE)
    (piper_voices / f"{VOICE}.onnx").unlink()
    fallback = speech.render_text(text, fmt="wav", voice=f"piper:{VOICE}")
    assert (fallback.engine, fallback.voice) == ("espeak", "vi")
    assert fallback.failures[0][0] == "piper" and f"{VOICE}.onnx" in fallback.failures[0][1]


def test_the_voices_listing_says_what_is_usable_and_why_not(tmp_path: Path, piper_voices: Path) -> None:
    write_voice(piper_voices, "vi_VN-vivos-x_low", sample_rate=16000)
    _corrupt_model_named(piper_voices, "vi_VN-vivos-x_low")
    write_voice(piper_voices, "vi_VN-nojson-low")
    (piper_voices / "vi_VN-nojson-low.onnx.json").unlink()
    listings = list_voices(_settings(tmp_path, piper_voices))
    by_choice = {listing.choice: listing for listing in listings}
    good = by_choice[f"piper:{VOICE}"]
    assert good.usable and good.problem is None
    assert (good.language, good.sample_rate, good.dataset) == ("vi_VN", 22050, "broadcaster-test-tone")
    assert good.licence and "CC0" in good.licence
    assert good.size_bytes == (piper_voices / f"{VOICE}.onnx").stat().st_size
    corrupt = by_choice["piper:vi_VN-vivos-x_low"]
    assert not corrupt.usable and corrupt.problem and "vi_VN-vivos-x_low.onnx" in corrupt.problem
    lonely = by_choice["piper:vi_VN-nojson-low"]
    assert not lonely.usable and lonely.problem and "vi_VN-nojson-low.onnx.json" in lonely.problem
    assert by_choice["espeak:vi"].usable and by_choice["espeak:vi-vn-x-south"].usable
    assert by_choice["gtts:vi"].usable
    assert [listing.engine for listing in listings][:4] == ["piper"] * 3 + ["espeak"]  # chain order

    assert check_choice(f"piper:{VOICE}", listings) == f"piper:{VOICE}"
    for bad in ("piper:vi_VN-vivos-x_low", "piper:nope", "espeak:klingon"):
        with pytest.raises(UnknownVoice) as caught:
            check_choice(bad, listings)
        assert f"piper:{VOICE}" in caught.value.message  # it says what can be chosen
