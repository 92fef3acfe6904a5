"""Rendering end to end, measured on the encoded output with ffmpeg's ebur128 (real ffmpeg, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio.chime import INTRO_NOTES, OUTRO_NOTES, synthesize_chime
from broadcaster.audio.codec import decode_audio
from broadcaster.audio.loudness import EncodingJob, measure_loudness
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.audio.render import (
    AFTER_INTRO_S,
    BEFORE_OUTRO_S,
    InvalidRenderOptions,
    NothingToRender,
    RenderOptions,
    render,
)
from tests.audio.signals import dominant_frequency, noise, scaled, tone

TARGET = -16.0
TRUE_PEAK = -1.5


def assert_broadcast_level(data: bytes) -> None:
    measured = measure_loudness(data)
    assert measured.integrated_lufs == pytest.approx(TARGET, abs=1.0)
    assert measured.true_peak_dbtp <= TRUE_PEAK


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("quiet speech", lambda speech: scaled(speech, 0.1)),
        ("loud clipped speech", lambda speech: scaled(speech, 8.0, clip=True)),
        ("speech as spoken", lambda speech: speech),
        ("tone", lambda speech: tone(1000, 10.0, 0.02)),
        ("noise", lambda speech: noise(10.0, 0.5)),
    ],
)
@pytest.mark.parametrize("chime", [False, True])
def test_rendered_mp3_is_at_broadcast_level(name, make, chime, speech_pcm) -> None:
    rendered = render([make(speech_pcm)], RenderOptions(chime=chime))
    assert rendered.data[:3] == b"ID3" or rendered.data[:2] == b"\xff\xfb" or rendered.data[0] == 0xFF
    assert_broadcast_level(rendered.data)
    # What render reports is what ffmpeg measures on its bytes (ffmpeg prints one decimal).
    ffmpeg = measure_loudness(rendered.data)
    assert rendered.loudness.integrated_lufs == pytest.approx(ffmpeg.integrated_lufs, abs=0.15)
    assert rendered.loudness.true_peak_dbtp == pytest.approx(ffmpeg.true_peak_dbtp, abs=0.5)
    assert rendered.loudness.true_peak_dbtp <= TRUE_PEAK
    assert rendered.loudness.duration_s == pytest.approx(ffmpeg.duration_s, abs=0.002)


def test_loudness_is_centred_on_the_target(speech_pcm) -> None:
    # Tighter than the ±1 LU promise: the codec allowance should land speech within a quarter LU.
    measured = render([speech_pcm], RenderOptions(chime=False)).loudness
    assert measured.integrated_lufs == pytest.approx(TARGET, abs=0.3)


def test_sentences_are_joined_with_the_configured_pause() -> None:
    sentences = [tone(500, 1.0, 0.2), tone(600, 1.0, 0.2), tone(700, 1.0, 0.2)]
    short = render(sentences, RenderOptions(chime=False, sentence_pause_s=0.2, fmt="wav"))
    long = render(sentences, RenderOptions(chime=False, sentence_pause_s=1.2, fmt="wav"))
    assert long.duration_s - short.duration_s == pytest.approx(2 * 1.0, abs=0.01)


def test_repeat_count_changes_duration_by_body_plus_gap() -> None:
    body = [tone(500, 2.0, 0.2)]
    once = render(body, RenderOptions(chime=False, repeat=1, fmt="wav"))
    thrice = render(body, RenderOptions(chime=False, repeat=3, repeat_gap_s=1.5, fmt="wav"))
    assert thrice.duration_s == pytest.approx(3 * once.duration_s + 2 * 1.5, abs=0.01)


def test_chimes_frame_the_speech_and_are_distinct(speech_pcm) -> None:
    plain = render([speech_pcm], RenderOptions(chime=False, fmt="wav"))
    framed = render([speech_pcm], RenderOptions(chime=True, fmt="wav"))
    intro, outro = synthesize_chime("intro"), synthesize_chime("outro")
    framing = intro.duration_s + AFTER_INTRO_S + BEFORE_OUTRO_S + outro.duration_s
    assert framed.duration_s - plain.duration_s == pytest.approx(framing, abs=0.01)

    samples = decode_audio(framed.data).samples
    outro_start = len(samples) - len(outro.samples)

    def pitch_at(offset: int, note) -> float:
        start = offset + int((note.start_s + 0.03) * SAMPLE_RATE)
        return dominant_frequency(samples[start : start + int(0.1 * SAMPLE_RATE)])

    assert [pitch_at(0, n) for n in INTRO_NOTES] == pytest.approx([n.freq_hz for n in INTRO_NOTES], abs=6)
    assert [pitch_at(outro_start, n) for n in OUTRO_NOTES] == pytest.approx(
        [n.freq_hz for n in OUTRO_NOTES], abs=6
    )


def test_chime_is_audible_in_the_mp3(speech_pcm) -> None:
    samples = decode_audio(render([speech_pcm]).data).samples
    first_note = samples[int(0.05 * SAMPLE_RATE) : int(0.15 * SAMPLE_RATE)]
    assert dominant_frequency(first_note) == pytest.approx(INTRO_NOTES[0].freq_hz, abs=6)
    assert 20 * np.log10(np.sqrt(np.mean(first_note**2))) > -30


def test_very_short_clip_does_not_blow_up() -> None:
    rendered = render([tone(700, 0.3, 0.001)], RenderOptions(chime=False))
    measured = measure_loudness(rendered.data)
    # Shorter than one 400 ms gating block: ffmpeg reports no integrated loudness, only a peak.
    assert measured.true_peak_dbtp <= TRUE_PEAK
    assert 0.25 < measured.duration_s < 0.45
    assert np.all(np.isfinite(decode_audio(rendered.data).samples))


def test_one_second_clip_is_levelled() -> None:
    assert_broadcast_level(render([tone(700, 1.0, 0.05)], RenderOptions(chime=False)).data)


def test_other_formats_and_sample_rates() -> None:
    at_48k = Pcm(np.sin(np.arange(48000 * 4) * 2 * np.pi * 440 / 48000).astype(np.float32) * 0.1, 48000)
    for fmt in ("ogg", "wav"):
        rendered = render(at_48k, RenderOptions(chime=False, fmt=fmt))
        assert rendered.fmt == fmt
        assert_broadcast_level(rendered.data)


def test_provenance_is_attached_without_changing_the_audio() -> None:
    rendered = render([tone(440, 1.0, 0.1)], RenderOptions(chime=False))
    tagged = rendered.with_info(engine="espeak", voice="vi")
    assert tagged.info == {"engine": "espeak", "voice": "vi"}
    assert tagged.sha256 == rendered.sha256 and len(tagged.sha256) == 64


def test_nothing_to_render_is_a_clear_error() -> None:
    with pytest.raises(NothingToRender) as caught:
        render([])
    assert caught.value.code == "audio_silent"
    with pytest.raises(NothingToRender):
        render([Pcm.silence(2.0), Pcm.silence(1.0)])


@pytest.mark.parametrize(
    "bad",
    [
        {"repeat": 0},
        {"repeat": 11},
        {"sentence_pause_s": -1.0},
        {"target_lufs": 0.0},
        {"true_peak_db": 3.0},
        {"fmt": "aac"},
        {"bitrate": "lots"},
        {"repeat": True},
    ],
)
def test_bad_options_are_refused_in_vietnamese(bad) -> None:
    with pytest.raises(InvalidRenderOptions) as caught:
        RenderOptions(**bad)
    assert caught.value.code == "audio_bad_render_options"
    assert caught.value.status == 422
    assert any(word in caught.value.message for word in ("Tùy chọn", "Định dạng", "Tốc độ"))


def test_options_cache_fields_are_plain_and_distinguish_options() -> None:
    assert RenderOptions().cache_fields() != RenderOptions(repeat=2).cache_fields()
    assert RenderOptions().cache_fields() == RenderOptions().cache_fields()
    assert set(RenderOptions().cache_fields()) >= {"repeat", "chime", "target_lufs", "fmt", "bitrate"}


def test_an_encoding_started_for_a_render_that_fails_leaves_no_ffmpeg_behind() -> None:
    job = EncodingJob("mp3", "64k", SAMPLE_RATE)  # started ahead of the levelling, as render does
    job.cancel()
    assert job.encoder.returncode is not None and job.decoder.returncode is not None


def test_a_started_encoding_encodes_and_measures_what_it_is_given() -> None:
    data, loudness = EncodingJob("mp3", "64k", SAMPLE_RATE).finish(tone(1000, 3.0, 0.5))
    assert loudness.duration_s == pytest.approx(3.0, abs=0.1)
    assert loudness.integrated_lufs == pytest.approx(-9.1, abs=0.5)
    # ffmpeg prints one decimal; the meters agree to a few hundredths beyond that.
    assert measure_loudness(data).integrated_lufs == pytest.approx(loudness.integrated_lufs, abs=0.1)
