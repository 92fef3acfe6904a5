"""The speech service end to end: real espeak-ng, real ffmpeg, the gTTS stand-in for Google."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broadcaster.audio.codec import decode_audio, encode_audio
from broadcaster.audio.loudness import measure_loudness
from broadcaster.config import Settings, load_settings
from broadcaster.speech import ProgrammePiece, SpeechService, UploadMissing
from broadcaster.text import EmptyText, NothingToSpeak
from broadcaster.tts.base import EngineError, SynthesisOptions, create_engine
from tests.fakes.gtts_server import FakeGttsServer, error, ok

BULLETIN = "UBND xã thông báo: 7h30 ngày 15/12/2026 cắt điện thôn 3. Đề nghị bà con chú ý theo dõi."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")


@pytest.fixture
def speech(settings: Settings) -> SpeechService:
    return SpeechService(settings)


def assert_broadcast_level(path: Path) -> None:
    measured = measure_loudness(path)  # ffmpeg ebur128 on the encoded file, as it will play
    assert -17.0 <= measured.integrated_lufs <= -15.0, measured
    assert measured.true_peak_dbtp <= -1.5, measured


def test_text_is_spoken_levelled_and_cached(speech: SpeechService) -> None:
    first = speech.render_text(BULLETIN, chime=True)
    assert first.engine == "espeak" and not first.cache_hit
    assert first.path.read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    assert_broadcast_level(first.path)
    sidecar = json.loads(first.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["engine"] == "espeak"
    assert "mười lăm tháng mười hai" in sidecar["spoken_text"]  # normalized before speaking
    assert sidecar["text"] == BULLETIN

    again = speech.render_text(BULLETIN, chime=True)
    assert again.cache_hit and again.sha256 == first.sha256


def test_repeat_and_chime_lengthen_the_audio(speech: SpeechService) -> None:
    once = speech.render_text("Họp dân lúc 19h tại nhà văn hóa thôn.")
    twice = speech.render_text("Họp dân lúc 19h tại nhà văn hóa thôn.", repeat=2)
    chimed = speech.render_text("Họp dân lúc 19h tại nhà văn hóa thôn.", chime=True)
    assert twice.duration_s > 1.8 * once.duration_s
    assert chimed.duration_s > once.duration_s + 1.0
    assert len({once.sha256, twice.sha256, chimed.sha256}) == 3


def test_same_text_written_differently_shares_one_cache_entry(speech: SpeechService) -> None:
    import unicodedata

    composed = speech.render_text("Thông báo họp thôn.")
    decomposed = speech.render_text(unicodedata.normalize("NFD", "Thông báo họp thôn."))
    assert decomposed.cache_hit and decomposed.sha256 == composed.sha256


def test_a_failing_engine_falls_back_and_the_fallback_does_not_stick(tmp_path: Path) -> None:
    with FakeGttsServer() as google:
        settings = load_settings(
            cache_dir=tmp_path / "cache", gtts_base_url=google.base_url, gtts_timeout_s=2.0,
            engines=["gtts", "espeak"],
        )
        speech = SpeechService(settings)
        google.default = error(400)  # not retried: fails fast
        fallback = speech.render_text("Thông báo mất điện.")
        assert fallback.engine == "espeak"
        sidecar = json.loads(fallback.path.with_suffix(".json").read_text(encoding="utf-8"))
        assert sidecar["engine"] == "espeak"

        google.default = ok()  # Google is back
        online = speech.render_text("Thông báo mất điện.")
        assert online.engine == "gtts" and not online.cache_hit
        assert online.sha256 != fallback.sha256
        assert_broadcast_level(online.path)


def test_all_engines_failing_names_each_failure(tmp_path: Path) -> None:
    with FakeGttsServer() as google:
        google.default = error(403)
        settings = load_settings(cache_dir=tmp_path / "cache", gtts_base_url=google.base_url, engines=["gtts"])
        with pytest.raises(EngineError) as caught:
            SpeechService(settings).render_text("Thông báo.")
        assert "gtts" in caught.value.message


def test_programme_joins_masters_between_chimes_and_is_cached(speech: SpeechService) -> None:
    pieces = [
        ProgrammePiece(text="Thông báo tiêm chủng ngày 5/12.", repeat=2),
        ProgrammePiece(text="Họp dân lúc 19h tại nhà văn hóa thôn."),
    ]
    masters = sum(speech.piece_duration_s(piece) for piece in pieces)
    programme = speech.render_programme(pieces, chime=True)
    assert programme.fmt == "mp3"
    assert programme.duration_s > masters + 2.0  # chimes and the gap between bulletins
    assert_broadcast_level(programme.path)
    assert speech.render_programme(pieces, chime=True).cache_hit
    assert speech.audio_path(programme.sha256) == programme.path


def test_duration_estimate_is_close_to_the_real_reading(speech: SpeechService) -> None:
    text = (
        "Thực hiện kế hoạch của Ủy ban nhân dân huyện, Trạm y tế xã tổ chức tiêm vắc xin sởi cho trẻ "
        "em từ chín tháng đến năm tuổi tại nhà văn hóa các thôn trong hai ngày thứ bảy và chủ nhật tới."
    )
    actual = speech.piece_duration_s(ProgrammePiece(text=text))
    assert 0.6 * actual <= speech.estimate_duration_s(text) <= 1.5 * actual


def test_an_uploaded_recording_goes_through_the_same_levelling(speech: SpeechService, tmp_path: Path) -> None:
    quiet = create_engine("espeak").synthesize("Bản tin ghi âm tiếng Mông.", SynthesisOptions())
    quiet = quiet.__class__(quiet.samples * 0.05, quiet.sample_rate)  # a faint recording
    recording = tmp_path / "ghi-am.ogg"
    recording.write_bytes(encode_audio(quiet, "ogg"))
    rendered = speech.render_upload(recording, repeat=2)
    assert rendered.engine == "upload"
    assert_broadcast_level(rendered.path)
    assert decode_audio(rendered.path).duration_s > 1.8 * quiet.duration_s


def test_bad_input_is_refused_with_a_code(speech: SpeechService, tmp_path: Path) -> None:
    with pytest.raises(EmptyText):
        speech.render_text("   ")
    with pytest.raises(NothingToSpeak):
        speech.render_text("🎉🎉 ★ ✓")
    with pytest.raises(UploadMissing):
        speech.render_upload(tmp_path / "khong-co.mp3")
    assert list((tmp_path / "cache").glob("*.mp3")) == []  # nothing half-made was stored
