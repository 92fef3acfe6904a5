"""The gTTS engine against a real HTTP stand-in for Google: chunking, retries, timeouts, garbage, bounds."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import requests
from gtts import gTTS

from broadcaster.audio.pcm import Pcm
from broadcaster.tts.base import EngineError, EngineUnavailable, SynthesisOptions, UnknownVoice
from broadcaster.tts.gtts import MAX_CHUNK_CHARS, GttsEngine, RetryPolicy, chunk_text, extract_audio
from tests.fakes.gtts_server import (
    FakeGttsServer,
    batchexecute_reply,
    error,
    garbage,
    hang,
    ok,
    tone_mp3,
)

LONG_BULLETIN = (
    "Thông báo của Ủy ban nhân dân xã về việc tiêm phòng vắc xin cho đàn gia súc, gia cầm vụ xuân năm "
    "hai nghìn không trăm hai mươi lăm, đề nghị bà con các thôn đưa vật nuôi đến điểm tiêm đúng giờ. "
    "Thời gian tiêm từ bảy giờ sáng đến mười một giờ trưa các ngày thứ hai, thứ ba và thứ tư tuần sau; "
    "địa điểm tại nhà văn hóa các thôn Đông, thôn Đoài, thôn Trung và thôn Thượng. "
    "Hộ nào chưa tiêm đủ mũi cho đàn vật nuôi sẽ không được hỗ trợ khi có dịch bệnh xảy ra. "
    "Mọi thắc mắc xin liên hệ cán bộ thú y xã hoặc trưởng thôn để được hướng dẫn. Trân trọng thông báo!"
)


# ---- chunking ---------------------------------------------------------------------------------------


def test_chunks_fit_the_limit_and_keep_every_word_whole_and_in_order() -> None:
    chunks = chunk_text(LONG_BULLETIN)
    assert len(chunks) > 3
    assert all(len(chunk) <= MAX_CHUNK_CHARS for chunk in chunks)
    assert " ".join(chunks).split() == LONG_BULLETIN.split()


def test_chunks_break_at_sentence_ends_when_sentences_fit() -> None:
    first = "Sáng mai xã tổ chức tiêm phòng cho đàn gia súc tại nhà văn hóa thôn Đông."
    second = "Bà con nhớ mang theo sổ theo dõi vật nuôi của gia đình mình nhé."
    assert chunk_text(f"{first} {second}") == [first, second]


def test_a_long_sentence_breaks_at_a_clause_before_a_word() -> None:
    sentence = (
        "Đề nghị các hộ gia đình có trâu, bò, lợn, gà, vịt chưa được tiêm phòng trong đợt trước, "
        "đưa vật nuôi đến điểm tiêm đúng giờ quy định để cán bộ thú y kịp tiêm."
    )
    chunks = chunk_text(sentence)
    assert len(chunks) == 2
    assert chunks[0].endswith("đợt trước,")


def test_small_pieces_are_packed_together() -> None:
    assert chunk_text("Một. Hai. Ba.") == ["Một. Hai. Ba."]


def test_chunker_normalizes_to_nfc_so_the_limit_counts_letters() -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Nghệ thuật truyền thống được gìn giữ. " * 6)
    chunks = chunk_text(decomposed)
    assert all(unicodedata.is_normalized("NFC", chunk) for chunk in chunks)
    assert all(len(chunk) <= MAX_CHUNK_CHARS for chunk in chunks)


def test_chunker_drops_punctuation_only_pieces() -> None:
    assert chunk_text("... !!! —") == []


# ---- the protocol -------------------------------------------------------------------------------------


def test_the_stand_in_speaks_the_protocol_gtts_itself_reads(gtts_server: FakeGttsServer) -> None:
    # gTTS's own stream() (with only its host swapped) must find the audio in the stand-in's reply.
    class LocalGtts(gTTS):
        def _prepare_requests(self) -> list[requests.PreparedRequest]:
            prepared = super()._prepare_requests()
            for request in prepared:
                request.url = str(request.url).replace("https://translate.google.com", gtts_server.base_url)
            return prepared

    mp3 = b"".join(LocalGtts("Xin chào bà con", lang="vi", lang_check=False).stream())
    assert mp3 == gtts_server.mp3_for_text("Xin chào bà con")
    assert gtts_server.requests[0].lang == "vi"


def test_extract_audio_rejects_a_reply_without_audio() -> None:
    assert extract_audio(batchexecute_reply(b"ID3 mp3")) == b"ID3 mp3"
    for reply in [b"", b"<html></html>", b')]}\'\n\n12\n[["wrb.fr","jQ1olc",null]]', b'jQ1olc","[\\"@@@\\"]']:
        with pytest.raises(EngineError):
            extract_audio(reply)


# ---- success -----------------------------------------------------------------------------------------


def test_chunk_audio_is_decoded_and_joined_in_text_order(fast_retry: RetryPolicy) -> None:
    # Low tone for the first sentence, high tone for the second; the first answer is delayed so that
    # the second chunk's audio arrives first: the join must still follow the text.
    first = "Một là câu đầu tiên của bản tin này, đọc bằng giọng trầm cho dễ nhận ra khi kiểm tra."
    second = "Hai là câu thứ hai, giọng cao."

    def tone_for(text: str) -> bytes:
        return tone_mp3(1.0, 300.0 if text.startswith("Một") else 1200.0)

    with FakeGttsServer(mp3_for_text=tone_for) as server:
        server.script(ok(delay_s=0.3), ok())
        engine = GttsEngine(base_url=server.base_url, timeout_s=2.0, retry=fast_retry)
        pcm = engine.synthesize(f"{first} {second}", SynthesisOptions())
    assert len(server.requests) == 2
    assert 1.9 < pcm.duration_s < 2.4
    assert _frequency(pcm, 0.2, 0.8) == pytest.approx(300, rel=0.1)
    assert _frequency(pcm, pcm.duration_s - 0.8, pcm.duration_s - 0.2) == pytest.approx(1200, rel=0.1)


def _frequency(pcm: Pcm, start_s: float, end_s: float) -> float:
    window = pcm.samples[int(start_s * pcm.sample_rate) : int(end_s * pcm.sample_rate)]
    crossings = np.count_nonzero(np.diff(np.signbit(window)))
    return crossings / 2 / (len(window) / pcm.sample_rate)


def test_requests_are_vietnamese_and_slow_only_for_slow_rates(
    gtts_engine: GttsEngine, gtts_server: FakeGttsServer
) -> None:
    gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions(rate=0.6))
    assert [(r.lang, r.slow) for r in gtts_server.requests] == [("vi", False), ("vi", True)]
    assert gtts_server.requests[0].path == "/_/TranslateWebserverUi/data/batchexecute"


def test_other_gtts_languages_are_voices_but_nonsense_is_not(
    gtts_engine: GttsEngine, gtts_server: FakeGttsServer
) -> None:
    gtts_engine.synthesize("Hello everyone.", SynthesisOptions(voice="en"))
    assert gtts_server.requests[-1].lang == "en"
    with pytest.raises(UnknownVoice):
        gtts_engine.synthesize("Xin chào.", SynthesisOptions(voice="vi-vn-x-south"))


def test_concurrency_stays_within_the_bound_and_no_word_is_split(gtts_server: FakeGttsServer) -> None:
    gtts_server.default = ok(delay_s=0.15)  # slow answers, so requests overlap
    engine = GttsEngine(base_url=gtts_server.base_url, timeout_s=2.0, max_concurrency=3)
    engine.synthesize(LONG_BULLETIN, SynthesisOptions())
    received = gtts_server.requests
    assert len(received) >= 6
    assert 2 <= gtts_server.max_in_flight <= 3
    assert all(len(r.text) <= MAX_CHUNK_CHARS for r in received)
    words = set(LONG_BULLETIN.split())
    assert all(set(r.text.split()) <= words for r in received)  # a split word would not be in the text
    assert sorted(w for r in received for w in r.text.split()) == sorted(LONG_BULLETIN.split())


def test_the_bound_holds_across_concurrent_callers(gtts_server: FakeGttsServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    gtts_server.default = ok(delay_s=0.1)
    engine = GttsEngine(base_url=gtts_server.base_url, timeout_s=2.0, max_concurrency=2)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: engine.synthesize(LONG_BULLETIN, SynthesisOptions()), range(4)))
    assert gtts_server.max_in_flight == 2


# ---- failures and retries ---------------------------------------------------------------------------


def test_429_then_success_is_retried_after_a_backoff(
    gtts_engine: GttsEngine, gtts_server: FakeGttsServer, fast_retry: RetryPolicy
) -> None:
    gtts_server.script(error(429))
    pcm = gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert pcm.duration_s > 0.5
    first, second = gtts_server.requests
    assert (first.status, second.status) == (429, 200)
    assert first.text == second.text
    assert second.started - first.started >= fast_retry.backoff_initial_s


def test_backoff_grows_between_attempts(gtts_engine: GttsEngine, gtts_server: FakeGttsServer) -> None:
    gtts_server.script(error(503), error(502))
    gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    starts = [r.started for r in gtts_server.requests]
    assert len(starts) == 3
    # 0.2 s then 0.4 s (+ up to 0.05 s jitter each): the second wait is clearly the longer one.
    assert starts[2] - starts[1] > starts[1] - starts[0] + 0.1


def test_retry_after_is_honoured(gtts_engine: GttsEngine, gtts_server: FakeGttsServer) -> None:
    gtts_server.script(error(429, retry_after="1"))
    gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    first, second = gtts_server.requests
    assert second.started - first.started >= 1.0


def test_a_retry_after_beyond_the_time_budget_gives_up_at_once(gtts_server: FakeGttsServer) -> None:
    gtts_server.default = error(429, retry_after="3600")
    engine = GttsEngine(base_url=gtts_server.base_url, timeout_s=2.0, retry=RetryPolicy(max_total_s=5.0))
    with pytest.raises(EngineError) as caught:
        engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert len(gtts_server.requests) == 1
    assert "429" in caught.value.message


def test_500s_until_attempts_run_out(gtts_engine: GttsEngine, gtts_server: FakeGttsServer) -> None:
    gtts_server.default = error(500)
    with pytest.raises(EngineError) as caught:
        gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert len(gtts_server.requests) == 3  # FAST_RETRY.max_attempts
    assert "HTTP 500" in caught.value.message and "3 lần" in caught.value.message


def test_a_hanging_server_times_out_within_a_bounded_time(gtts_server: FakeGttsServer) -> None:
    gtts_server.default = hang(60.0)
    policy = RetryPolicy(max_attempts=2, max_total_s=5.0, backoff_initial_s=0.1, jitter_s=0.0)
    engine = GttsEngine(base_url=gtts_server.base_url, timeout_s=0.3, retry=policy)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        engine.synthesize("Xin chào bà con.", SynthesisOptions())
    # Bound: 2 attempts x 0.3 s + 0.1 s backoff. Without the timeout this would wait the full minute.
    assert time.monotonic() - started < 10.0
    assert len(gtts_server.requests) == 2
    assert "không trả lời trong 0,3 giây" in caught.value.message


def test_the_total_time_budget_stops_retries_early(gtts_server: FakeGttsServer) -> None:
    gtts_server.default = error(503)
    policy = RetryPolicy(max_attempts=50, max_total_s=1.0, backoff_initial_s=0.3, backoff_max_s=0.3, jitter_s=0.0)
    engine = GttsEngine(base_url=gtts_server.base_url, timeout_s=1.0, retry=policy)
    with pytest.raises(EngineError):
        engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert 2 <= len(gtts_server.requests) <= 4


def test_garbage_is_an_engine_error_not_a_crash(gtts_engine: GttsEngine, gtts_server: FakeGttsServer) -> None:
    gtts_server.default = garbage()
    with pytest.raises(EngineError) as caught:
        gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert "không phải âm thanh" in caught.value.message
    assert len(gtts_server.requests) == 1  # a wrong answer is not retried


def test_well_framed_audio_that_is_not_mp3_is_an_engine_error(
    gtts_engine: GttsEngine, gtts_server: FakeGttsServer
) -> None:
    gtts_server.default = garbage(batchexecute_reply(b"this is not an mp3 at all" * 20))
    with pytest.raises(EngineError) as caught:
        gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert "không giải mã được" in caught.value.message


def test_a_client_error_is_not_retried(gtts_engine: GttsEngine, gtts_server: FakeGttsServer) -> None:
    gtts_server.default = error(403)
    with pytest.raises(EngineError) as caught:
        gtts_engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert len(gtts_server.requests) == 1
    assert "403" in caught.value.message


def test_one_failing_chunk_fails_the_call_and_stops_the_rest(gtts_server: FakeGttsServer) -> None:
    gtts_server.script(error(404))
    gtts_server.default = ok(delay_s=0.2)
    engine = GttsEngine(base_url=gtts_server.base_url, timeout_s=2.0, max_concurrency=1)
    with pytest.raises(EngineError):
        engine.synthesize(LONG_BULLETIN, SynthesisOptions())
    time.sleep(0.5)  # give cancelled work the chance to (wrongly) go on
    assert len(gtts_server.requests) < len(chunk_text(LONG_BULLETIN))


def test_no_server_listening_is_engine_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(max_attempts=2, backoff_initial_s=0.05, jitter_s=0.0)
    engine = GttsEngine(base_url=f"http://127.0.0.1:{port}", timeout_s=1.0, retry=policy)
    with pytest.raises(EngineUnavailable) as caught:
        engine.synthesize("Xin chào bà con.", SynthesisOptions())
    assert "Không kết nối được" in caught.value.message


def test_a_bad_base_url_is_refused_up_front() -> None:
    with pytest.raises(EngineUnavailable):
        GttsEngine(base_url="translate.google.com")


def test_settings_supply_the_url_and_timeout(gtts_server: FakeGttsServer) -> None:
    from broadcaster.config import Settings

    settings = Settings(gtts_base_url=gtts_server.base_url, gtts_timeout_s=0.3)
    gtts_server.default = hang(60.0)
    engine = GttsEngine(settings, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(EngineUnavailable) as caught:
        engine.synthesize("Xin chào.", SynthesisOptions())
    assert "0,3 giây" in caught.value.message
    assert len(gtts_server.requests) == 1
