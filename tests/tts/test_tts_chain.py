"""The fallback chain: one voice per bulletin, the next engine on failure, every failure reported."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.config import Settings
from broadcaster.tts.base import EngineError, NothingToSay, SynthesisOptions, UnknownEngine
from broadcaster.tts.chain import ChainResult, EngineChain, NoEngines, build_chain
from broadcaster.tts.espeak import EspeakEngine
from broadcaster.tts.gtts import GttsEngine, RetryPolicy
from tests.fakes.gtts_server import FakeGttsServer, error, ok

SENTENCES = ["Xin chào bà con.", "Sáng mai xã tổ chức tiêm phòng cho đàn gia súc.", "Trân trọng thông báo."]
NO_RETRY = RetryPolicy(max_attempts=1)


def test_the_preferred_engine_speaks_when_it_works(gtts_server: FakeGttsServer) -> None:
    chain = EngineChain([GttsEngine(base_url=gtts_server.base_url, retry=NO_RETRY), EspeakEngine()])
    result = chain.synthesize(SENTENCES)
    assert (result.engine, result.voice, result.failures) == ("gtts", "vi", [])
    assert len(result.pcm_per_sentence) == len(SENTENCES)
    assert [r.text for r in gtts_server.requests] == SENTENCES


def test_a_failing_online_engine_hands_the_bulletin_to_espeak(gtts_server: FakeGttsServer) -> None:
    gtts_server.default = error(503)
    chain = EngineChain([GttsEngine(base_url=gtts_server.base_url, retry=NO_RETRY), EspeakEngine()])
    result = chain.synthesize(SENTENCES)
    assert (result.engine, result.voice) == ("espeak", "vi")
    assert [name for name, _ in result.failures] == ["gtts"]
    assert "HTTP 503" in result.failures[0][1]
    assert [len(p.samples) for p in result.pcm_per_sentence] == _espeak_lengths(SENTENCES)


def test_a_failure_mid_bulletin_means_espeak_reads_all_of_it(gtts_server: FakeGttsServer) -> None:
    # Google speaks the first two sentences, then fails: no mixing of voices inside one bulletin.
    gtts_server.script(ok(), ok())
    gtts_server.default = error(500)
    chain = EngineChain([GttsEngine(base_url=gtts_server.base_url, retry=NO_RETRY), EspeakEngine()])
    result = chain.synthesize(SENTENCES)
    assert result.engine == "espeak"
    assert len(gtts_server.requests) == 3
    assert [len(p.samples) for p in result.pcm_per_sentence] == _espeak_lengths(SENTENCES)


def _espeak_lengths(sentences: list[str]) -> list[int]:
    return [len(EspeakEngine().synthesize(s, SynthesisOptions()).samples) for s in sentences]


def test_when_every_engine_fails_the_error_names_each_failure(gtts_server: FakeGttsServer) -> None:
    gtts_server.default = error(500)
    chain = EngineChain([GttsEngine(base_url=gtts_server.base_url, retry=NO_RETRY), EspeakEngine()])
    with pytest.raises(EngineError) as caught:
        chain.synthesize(SENTENCES, SynthesisOptions(voice="klingon"))
    message = caught.value.message
    assert message.startswith("Không bộ đọc nào đọc được bản tin.")
    assert "gtts:" in message and "espeak:" in message
    assert "klingon" in message
    assert caught.value.detail is not None and "tts_unknown_voice" in caught.value.detail


def test_a_voice_only_the_second_engine_has_is_spoken_by_it(gtts_server: FakeGttsServer) -> None:
    chain = EngineChain([GttsEngine(base_url=gtts_server.base_url, retry=NO_RETRY), EspeakEngine()])
    result = chain.synthesize(SENTENCES[:1], SynthesisOptions(voice="vi-vn-x-south"))
    assert (result.engine, result.voice) == ("espeak", "vi-vn-x-south")
    assert gtts_server.requests == []  # refused before any request


def test_bad_input_is_not_an_engine_failure() -> None:
    chain = EngineChain([EspeakEngine()])
    with pytest.raises(NothingToSay):
        chain.synthesize([])
    with pytest.raises(NothingToSay):
        chain.synthesize(["Xin chào.", "   "])


def test_an_empty_chain_is_refused() -> None:
    with pytest.raises(NoEngines):
        EngineChain([])


def test_build_chain_follows_the_settings(gtts_server: FakeGttsServer) -> None:
    settings = Settings(engines=["gtts", "espeak"], gtts_base_url=gtts_server.base_url, gtts_timeout_s=3.0)
    chain = build_chain(settings)
    assert chain.names == ["gtts", "espeak"]
    result = chain.synthesize(SENTENCES[:1])
    assert result.engine == "gtts"
    assert len(gtts_server.requests) == 1  # the Settings URL was used


def test_build_chain_refuses_unknown_names_and_empty_lists() -> None:
    with pytest.raises(UnknownEngine) as caught:
        build_chain(Settings(), ["espeak", "festival"])
    assert "festival" in caught.value.message
    with pytest.raises(NoEngines):
        build_chain(Settings(engines=[]))


async def test_the_async_helper_runs_the_chain_off_the_event_loop() -> None:
    result = await EngineChain([EspeakEngine()]).synthesize_async(SENTENCES[:2])
    assert isinstance(result, ChainResult)
    assert result.engine == "espeak"
    assert all(np.max(np.abs(p.samples)) > 0.05 for p in result.pcm_per_sentence)
