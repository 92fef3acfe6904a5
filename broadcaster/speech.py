"""The speech service: bulletin text (or a recording) in, levelled and cached broadcast audio out.

    text ─ validate ─ normalize ─ split into sentences ─ engine (first of the chain that speaks)
         ─ render (pauses, repeats, chimes, −16 LUFS, encode once) ─ cache (by content)

A programme (one session at one cluster) is built from *masters*: each bulletin rendered with its
repeats, levelled, and kept lossless (WAV) in the cache. The programme joins the masters between the
intro and outro chimes and is encoded to MP3 once, so no audio is ever encoded twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from broadcaster.audio import render as rendering
from broadcaster.audio.codec import decode_audio
from broadcaster.audio.render import RENDER_VERSION, RenderOptions, render, render_upload
from broadcaster.cache import AudioCache, CacheEntry, cache_key, canonical_json, upload_cache_key
from broadcaster.config import Settings
from broadcaster.errors import InvalidInput
from broadcaster.hashing import file_sha256
from broadcaster.text import (
    MAX_SPOKEN_S,
    Lexicon,
    SpokenTooLong,
    load_lexicon,
    normalize,
    split_sentences,
    spoken_seconds,
    validate_bulletin_text,
)
from broadcaster.text.explain import Explanation, explain
from broadcaster.tts.base import TtsEngine, VoiceListing, create_engine
from broadcaster.tts.catalogue import check_choice, list_voices
from broadcaster.tts.chain import EngineChain, VoiceChoice, build_chain

# Lossless format of masters: they are joined into programmes and encoded only there.
MASTER_FORMAT = "wav"
# Silence between two bulletins of a programme (longer than the pause between sentences).
GAP_BETWEEN_BULLETINS_S = 1.5
# gTTS takes at most 100 characters a request; one sentence list serves every engine.
SENTENCE_MAX_CHARS = 100
# The syllable estimate can be off for a slow voice: the render itself stops this far past the limit.
SPOKEN_RENDER_MARGIN = 1.5


class UploadMissing(InvalidInput):
    """The recording a bulletin names is not stored."""

    code = "upload_missing"


@dataclass(frozen=True)
class RenderedAudio:
    """A cached, encoded file ready to serve or air, with its provenance and measured loudness."""

    path: Path
    sha256: str
    size: int
    duration_s: float
    engine: str  # the engine that actually spoke ("upload" for recordings, "programme" for programmes)
    voice: str
    cache_hit: bool
    integrated_lufs: float
    true_peak_dbtp: float
    fmt: str
    # Engines that could not speak before the one that did: (engine, Vietnamese reason).
    failures: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_entry(
        cls, entry: CacheEntry, *, engine: str, voice: str, failures: Sequence[tuple[str, str]] = ()
    ) -> RenderedAudio:
        """Describe a cache entry."""
        return cls(
            path=entry.path,
            sha256=entry.audio_sha256,
            size=entry.size,
            duration_s=entry.duration_s,
            engine=engine,
            voice=voice,
            cache_hit=entry.hit,
            integrated_lufs=entry.loudness.integrated_lufs,
            true_peak_dbtp=entry.loudness.true_peak_dbtp,
            fmt=entry.fmt,
            failures=tuple(failures),
        )


class LexiconSource(Protocol):
    """Where the speech service finds a commune's own lexicon (``services.lexicon.CommuneLexicons``)."""

    def for_commune(self, base: Lexicon, commune_id: int) -> Lexicon:
        """``base`` with the commune's entries laid over it."""

    def held(self, commune_id: int) -> AbstractContextManager[None]:
        """Within the block, this thread reads the commune's entries once."""

    def held_many(self, commune_ids: Collection[int]) -> AbstractContextManager[None]:
        """``held`` for several communes, read together."""


@dataclass(frozen=True)
class ProgrammePiece:
    """One bulletin in a programme: its text or its uploaded recording, read ``repeat`` times.

    ``commune_id`` names whose lexicon reads the text (None: the built-in one and the settings' files).
    """

    text: str | None = None
    upload: Path | None = None
    repeat: int = 1
    voice: str | None = None  # ``engine:voice``; None: the settings' voice
    rate: float | None = None  # speaking-rate factor; None: the settings' speech_rate
    commune_id: int | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.upload is None):
            raise ValueError("a programme piece has either text or an upload")


class SpeechService:
    """Renders bulletins, uploads and programmes through the engine chain and the audio cache."""

    def __init__(
        self,
        settings: Settings,
        cache: AudioCache | None = None,
        *,
        chain: EngineChain | None = None,
        lexicon: Lexicon | None = None,
        lexicons: LexiconSource | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else AudioCache(settings.cache_dir, settings.cache_max_bytes)
        self.chain = chain if chain is not None else build_chain(settings)
        self.lexicon = lexicon if lexicon is not None else load_lexicon(settings.lexicon_paths)
        self.lexicons = lexicons
        self._engines_outside_chain: dict[str, TtsEngine] = {}

    def one_reading(self, commune_id: int) -> AbstractContextManager[None]:
        """Within the block, this thread reads the commune's lexicon once (one programme, one reading)."""
        return self.lexicons.held(commune_id) if self.lexicons is not None else nullcontext()

    def readings_of(self, commune_ids: Collection[int]) -> AbstractContextManager[None]:
        """``one_reading`` for several communes at once, their lexicons read together (a province's batch)."""
        return self.lexicons.held_many(commune_ids) if self.lexicons is not None else nullcontext()

    def lexicon_for(self, commune_id: int | None) -> Lexicon:
        """The lexicon that reads a commune's bulletins: the base one with the commune's entries."""
        if commune_id is None or self.lexicons is None:
            return self.lexicon
        return self.lexicons.for_commune(self.lexicon, commune_id)

    def spoken_form(self, text: str, *, commune_id: int | None = None) -> str:
        """The validated text as the announcer reads it (what the engines are given)."""
        lexicon = self.lexicon_for(commune_id)
        return normalize(validate_bulletin_text(text, lexicon), lexicon)

    def explain(self, text: str, *, commune_id: int | None = None) -> Explanation:
        """The spoken form of the validated text with its changes and uncertain spans (for the pages)."""
        lexicon = self.lexicon_for(commune_id)
        return explain(validate_bulletin_text(text, lexicon), lexicon)

    def render_text(
        self,
        text: str,
        *,
        repeat: int = 1,
        chime: bool = False,
        fmt: str = "mp3",
        voice: str | None = None,
        rate: float | None = None,
        commune_id: int | None = None,
    ) -> RenderedAudio:
        """Speak a bulletin: the first engine of the chain that can, cached per engine.

        ``voice`` (``engine:voice`` or a bare voice; default: the settings' voice) puts its engine
        first; ``rate`` is the speaking-rate factor (default: the settings' ``speech_rate``);
        ``commune_id`` reads the text with that commune's lexicon.
        """
        lexicon = self.lexicon_for(commune_id)
        spoken = normalize(validate_bulletin_text(text, lexicon), lexicon)
        fingerprint = lexicon.fingerprint(text)
        sentences = split_sentences(spoken, max_chars=SENTENCE_MAX_CHARS)
        options = RenderOptions(repeat=repeat, chime=chime, fmt=fmt)
        choice = VoiceChoice.parse(voice if voice is not None else self.settings.voice)
        speaking_rate = self.settings.speech_rate if rate is None else rate

        def speak_and_render(engine: TtsEngine) -> tuple[CacheEntry, str]:
            synthesis = choice.options_for(engine, speaking_rate)
            engine_voice = synthesis.voice or engine.default_voice()
            identity = engine.voice_identity(engine_voice)
            key = cache_key(spoken, engine.name, synthesis, options, voice=engine_voice, voice_identity=identity,
                            lexicon=fingerprint)

            def produce() -> rendering.RenderedAudio:
                pieces = []
                spoken_s = 0.0
                for sentence in sentences:
                    pieces.append(engine.synthesize(sentence, synthesis))
                    spoken_s += pieces[-1].duration_s
                    if spoken_s > MAX_SPOKEN_S * SPOKEN_RENDER_MARGIN:
                        raise SpokenTooLong(
                            f"Bản tin đọc lên dài quá {MAX_SPOKEN_S / 60:g} phút; hãy rút gọn hoặc chia nhỏ.",
                            detail=f"{engine.name} spoke {spoken_s:.0f} s before the end",
                        )
                return render(pieces, options).with_info(
                    text=text, spoken_text=spoken, engine=engine.name, voice=engine_voice
                )

            return self.cache.get_or_create(key, produce), engine_voice

        (entry, engine_voice), engine, failures = self.chain_for(choice).first_that_speaks(speak_and_render)
        return RenderedAudio.from_entry(entry, engine=engine.name, voice=engine_voice, failures=failures)

    def voices(self) -> list[VoiceListing]:
        """Every engine's voices here, usable or not and why (the chain's engines first)."""
        return list_voices(self.settings, [*self.chain.engines, *self._engines_outside_chain.values()])

    def check_voice(self, value: str) -> str:
        """``value`` as a stored choice (``engine:voice``) if it names a usable voice; ``UnknownVoice`` if not."""
        return check_choice(value, self.voices())

    def chain_for(self, choice: VoiceChoice) -> EngineChain:
        """The configured chain, with the chosen voice's engine first (built if the chain lacks it)."""
        if choice.engine is None or self.chain.names[0] == choice.engine:
            return self.chain
        engine = next((e for e in self.chain.engines if e.name == choice.engine), None)
        if engine is None:
            engine = self._engines_outside_chain.get(choice.engine)
            if engine is None:
                engine = create_engine(choice.engine, settings=self.settings)
                self._engines_outside_chain[choice.engine] = engine
        return self.chain.preferring(engine)

    def render_upload(
        self, upload: Path, *, repeat: int = 1, chime: bool = False, fmt: str = "mp3"
    ) -> RenderedAudio:
        """Level and encode a recording (any format ffmpeg reads), cached by the recording's content."""
        if not upload.is_file():
            raise UploadMissing("Không tìm thấy tệp ghi âm của bản tin.", detail=str(upload))
        options = RenderOptions(repeat=repeat, chime=chime, fmt=fmt)
        upload_sha256 = file_sha256(upload)
        key = upload_cache_key(upload_sha256, options)
        entry = self.cache.get_or_create(
            key,
            lambda: render_upload(
                upload,
                options,
                max_bytes=self.settings.upload_max_bytes,
                max_duration_s=self.settings.upload_max_duration_s,
            ).with_info(engine="upload", voice="recording", upload_sha256=upload_sha256),
        )
        return RenderedAudio.from_entry(entry, engine="upload", voice="recording")

    def master(self, piece: ProgrammePiece) -> RenderedAudio:
        """The piece with its repeats, levelled and lossless: the building block of programmes."""
        if piece.text is not None:
            return self.render_text(
                piece.text, repeat=piece.repeat, fmt=MASTER_FORMAT, voice=piece.voice, rate=piece.rate,
                commune_id=piece.commune_id,
            )
        assert piece.upload is not None
        return self.render_upload(piece.upload, repeat=piece.repeat, fmt=MASTER_FORMAT)

    def piece_duration_s(self, piece: ProgrammePiece) -> float:
        """Exact playing time of the piece with its repeats (renders it through the cache)."""
        return self.master(piece).duration_s

    def estimate_duration_s(self, text: str, *, commune_id: int | None = None) -> float:
        """An instant estimate of the spoken time of ``text``, from its syllable count."""
        return spoken_seconds(normalize(text, self.lexicon_for(commune_id)))

    def render_programme(self, pieces: Sequence[ProgrammePiece], *, chime: bool = True) -> RenderedAudio:
        """One session's programme: the pieces' masters between the chimes, encoded once to MP3."""
        if not pieces:
            raise InvalidInput("Chương trình phát không có bản tin nào.", code="programme_empty")
        masters = [self.master(piece) for piece in pieces]
        options = RenderOptions(sentence_pause_s=GAP_BETWEEN_BULLETINS_S, chime=chime)
        key = hashlib.sha256(
            canonical_json(
                {
                    "kind": "programme",
                    "masters": [m.sha256 for m in masters],
                    "render": options.cache_fields(),
                    "render_version": RENDER_VERSION,
                }
            )
        ).hexdigest()
        engines = ",".join(sorted({m.engine for m in masters}))
        entry = self.cache.get_or_create(
            key,
            lambda: render([decode_audio(m.path) for m in masters], options).with_info(
                engine=engines, voice="programme", masters=[m.sha256 for m in masters]
            ),
        )
        return RenderedAudio.from_entry(entry, engine=engines, voice="programme")

    def audio_path(self, sha256: str) -> Path | None:
        """The cached file whose own content hash is ``sha256`` (what speakers download)."""
        return self.cache.path_for_audio_sha256(sha256)

    def stored_audio(self, sha256: str) -> RenderedAudio | None:
        """The cached, verified audio whose content hash is ``sha256``, described; None if missing or damaged."""
        entry = self.cache.entry_for_audio_sha256(sha256)
        if entry is None:
            return None
        return RenderedAudio.from_entry(entry, engine=str(entry.metadata.get("engine", "")),
                                        voice=str(entry.metadata.get("voice", "")))

    async def arender_text(
        self,
        text: str,
        *,
        repeat: int = 1,
        chime: bool = False,
        voice: str | None = None,
        rate: float | None = None,
        commune_id: int | None = None,
    ) -> RenderedAudio:
        """``render_text`` in a worker thread, for the event loop."""
        return await asyncio.to_thread(
            lambda: self.render_text(text, repeat=repeat, chime=chime, voice=voice, rate=rate, commune_id=commune_id)
        )

    async def arender_programme(self, pieces: Sequence[ProgrammePiece], *, chime: bool = True) -> RenderedAudio:
        """``render_programme`` in a worker thread, for the event loop."""
        return await asyncio.to_thread(self.render_programme, list(pieces), chime=chime)

