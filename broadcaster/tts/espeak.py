"""The offline engine: libespeak-ng, bundled by ``espeakng-loader``, called in-process through ctypes.

Why not the PyPI ``espeakng`` binding: it runs the ``espeak-ng`` program once per call, so it needs the
system program and costs a process per sentence. Here the library shipped in the wheel is loaded once.

libespeak-ng keeps global state (one current voice, one rate, one output callback), so every call goes
through one process-wide lock. Synthesis runs at several hundred times real time, so the lock costs little.

Determinism: the library's pitch "flutter" advances a static counter that no API call resets, so the
same text came out a few samples longer or shorter from one call to the next. Each voice is therefore
loaded from a copy of its voice file with ``flutter 0`` appended (written once to a private temporary
folder) and reloaded before every call (~0.1 ms, also resetting a variant's echo): the same text then
always has the same length. Samples can still differ slightly between calls: the voice's "roughness"
(a dip in the amplitude of every 2nd or 4th pitch cycle on some sounds) follows a static cycle counter
as well. ``roughness 8`` would switch it off and make output bit-exact, but it would change the voice
that communes hear, for a property nothing needs (the audio cache is keyed by text, not by samples).
"""

from __future__ import annotations

import ctypes
import logging
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.tts.base import (
    EngineError,
    EngineUnavailable,
    NothingToSay,
    SynthesisOptions,
    TtsEngine,
    UnknownVoice,
    VoiceListing,
    register_engine,
)

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)

# Words per minute at rate 1.0. espeak's default is 175 wpm, which reads Vietnamese at ~4.3 syllables/s
# (a Vietnamese "word" here is a syllable). Through horns, in the open air with echoes between houses,
# a slower pace is easier to follow: 150 wpm reads ~3.65 syllables/s, close to a careful radio announcer.
# Measured on a 45-syllable bulletin sentence: 140 wpm 3.40 syl/s, 150 wpm 3.65, 160 wpm 3.89, 175 wpm 4.28.
ANNOUNCER_WPM = 150
# The library's own limits for espeakRATE (above 450 it needs libsonic, which this build lacks).
MIN_WPM, MAX_WPM = 80, 450

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it, a broken data folder makes the library call exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # keep espeak's sentence-final pause, as if the sentences were read in one go
_PARAM_RATE = 1
_EE_OK = 0
_SILENCE_PEAK = 0.002  # about -54 dBFS: below this the output is only a pause

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
# A voice spec: a voice (language code, file name or identifier) and an optional +variant.
_VOICE_SPEC = re.compile(r"^(?P<voice>[A-Za-z0-9_/-]+)(?:\+(?P<variant>[A-Za-z0-9_-]+))?$")


class _EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated code)*, then a 0 byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class VoiceInfo:
    """One voice of the library: its file identifier, display name and language codes."""

    identifier: str
    name: str
    languages: tuple[str, ...]


class _Library:
    """The loaded library and everything that must only be touched while holding ``_LOCK``."""

    def __init__(self) -> None:
        try:
            import espeakng_loader

            self.lib_path = str(espeakng_loader.get_library_path())
            self.data_path = Path(espeakng_loader.get_data_path())
            lib = ctypes.CDLL(self.lib_path)
        except (ImportError, OSError, RuntimeError) as exc:
            raise EngineUnavailable(
                "Không nạp được thư viện espeak-ng (gói espeakng-loader bị thiếu hoặc hỏng).",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByFile.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        self.lib = lib
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(), _INITIALIZE_DONT_EXIT
        )
        if rate != SAMPLE_RATE:
            raise EngineUnavailable(
                "Không khởi động được espeak-ng (thiếu dữ liệu giọng đọc?).",
                detail=f"espeak_Initialize returned {rate} with data {self.data_path}",
            )
        self._chunks: list[bytes] = []
        # Kept on self: ctypes does not keep the callback alive, and a collected one would crash.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)
        self._set_seed = getattr(lib, "espeak_ng_SetRandSeed", None)
        self.voices = self._list_voices()
        self._steady_dir = tempfile.TemporaryDirectory(prefix="bc-espeak-")
        self._voice_files: dict[str, str | None] = {}  # None: use the plain voice

    def _on_audio(self, wav: Any, numsamples: int, _events: Any) -> int:
        if wav and numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0  # 0 = go on

    def _list_voices(self) -> list[VoiceInfo]:
        found: list[VoiceInfo] = []
        array = self.lib.espeak_ListVoices(None)
        index = 0
        while array[index]:
            voice = array[index].contents
            found.append(
                VoiceInfo(
                    identifier=(voice.identifier or b"").decode(),
                    name=(voice.name or b"").decode(),
                    languages=_parse_languages(voice.languages),
                )
            )
            index += 1
        return found

    def select_voice(self, spec: str, base: VoiceInfo, variant: str | None) -> None:
        """Load voice ``spec``; done before every call, as it also resets the echo and voice state."""
        if spec not in self._voice_files:
            self._voice_files[spec] = self._write_steady_voice(base, variant)
        path = self._voice_files[spec]
        if path is not None:
            status = self.lib.espeak_SetVoiceByFile(path.encode())
        else:
            status = self.lib.espeak_SetVoiceByName(spec.encode())
        if status != _EE_OK:
            raise UnknownVoice(
                f"espeak-ng không nạp được giọng «{spec}».", detail=f"SetVoice returned {status}"
            )

    def _write_steady_voice(self, base: VoiceInfo, variant: str | None) -> str | None:
        lines = self._voice_file(base).read_text(encoding="utf-8", errors="replace").splitlines()
        if variant:
            # A variant's lines apply on top of the voice; its name/language lines describe itself only.
            variant_file = self.data_path / "voices" / "!v" / variant
            lines += [
                line for line in variant_file.read_text(encoding="utf-8", errors="replace").splitlines()
                if not line.strip().startswith(("name", "language"))
            ]
        lines.append("flutter 0")
        path = Path(self._steady_dir.name) / f"v{len(self._voice_files)}"
        # The library lower-cases the path and copies it into a 60-byte buffer: fall back to the
        # plain voice (fluttering, so a few samples of jitter) where the temp folder cannot be used.
        if str(path) != str(path).lower() or len(str(path).encode()) > 59:
            log.warning("espeak: temp folder %s unusable for voice files; output not bit-exact", path)
            return None
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    def _voice_file(self, voice: VoiceInfo) -> Path:
        for folder in ("lang", "voices"):
            candidate = self.data_path / folder / voice.identifier
            if candidate.is_file():
                return candidate
        raise UnknownVoice(
            f"Thiếu tệp của giọng «{voice.identifier}» trong dữ liệu espeak-ng.",
            detail=f"no voice file for {voice.identifier} under {self.data_path}",
        )

    def synthesize(self, text: str, wpm: int) -> bytes:
        """Speak ``text`` with the current voice and return 16-bit mono samples."""
        self.lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
        if self._set_seed is not None:
            self._set_seed(0)  # only the Klatt variants use randomness; seeded, they repeat too
        self._chunks = []
        encoded = text.encode("utf-8") + b"\0"
        status = self.lib.espeak_Synth(
            encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
        )
        audio = b"".join(self._chunks)
        self._chunks = []
        if status != _EE_OK:
            raise EngineError(
                "espeak-ng gặp lỗi khi đọc đoạn văn bản này.", detail=f"espeak_Synth returned {status}"
            )
        return audio


def _parse_languages(pointer: int | None) -> tuple[str, ...]:
    codes: list[str] = []
    if not pointer:
        return ()
    offset = 0
    while ctypes.string_at(pointer + offset, 1) != b"\0":  # priority byte; 0 ends the list
        code = ctypes.string_at(pointer + offset + 1)
        codes.append(code.decode())
        offset += len(code) + 2
    return tuple(codes)


_LOCK = threading.Lock()
_library: _Library | None = None


def _get_library() -> _Library:
    # Called with _LOCK held: initialised once per process, on first use (nothing at import time).
    global _library
    if _library is None:
        _library = _Library()
    return _library


def available_voices() -> list[VoiceInfo]:
    """All voices the bundled library offers."""
    with _LOCK:
        return list(_get_library().voices)


@register_engine("espeak")
class EspeakEngine(TtsEngine):
    """eSpeak NG, offline: robotic but always there. Voices: ``vi`` (northern), ``vi-vn-x-central``,
    ``vi-vn-x-south``, any other espeak language, each optionally with a ``+variant`` (e.g. ``vi+f3``)."""

    name = "espeak"
    online = False

    def __init__(self, settings: Settings | None = None, *, voice: str = "vi", wpm: int = ANNOUNCER_WPM) -> None:
        self._voice = voice
        self._wpm = wpm

    def default_voice(self) -> str:
        """The voice used when options.voice is None."""
        return self._voice

    def list_voices(self) -> list[VoiceListing]:
        """The Vietnamese voices of the bundled library (northern, central, southern)."""
        try:
            voices = available_voices()
        except EngineError as exc:
            return [VoiceListing(engine=self.name, name=self._voice, usable=False, problem=exc.message)]
        return [
            VoiceListing(
                engine=self.name, name=voice.languages[0], usable=True, language=voice.languages[0],
                sample_rate=SAMPLE_RATE, licence="GPL-3.0-or-later (espeak-ng)", note=voice.name,
            )
            for voice in voices
            if voice.languages and voice.languages[0].startswith("vi") and not voice.identifier.startswith("mb/")
        ]

    def synthesize(self, text: str, options: SynthesisOptions) -> Pcm:
        """Speak ``text`` and return mono PCM at 22050 Hz; ``EngineError`` if espeak produced nothing."""
        if not text.strip():
            raise NothingToSay("Không có chữ nào để đọc.", detail="empty text")
        spec = options.voice or self._voice
        wpm = max(MIN_WPM, min(MAX_WPM, round(self._wpm * options.rate)))
        with _LOCK:
            library = _get_library()
            base, variant = _resolve_voice(library, spec)
            library.select_voice(spec, base, variant)
            audio = library.synthesize(text, wpm)
        pcm = Pcm.from_int16(audio, SAMPLE_RATE)
        # Punctuation alone gives espeak's end-of-sentence pause and nothing else: that is no speech either.
        if not len(pcm.samples) or float(np.max(np.abs(pcm.samples))) < _SILENCE_PEAK:
            raise EngineError(
                "espeak-ng không tạo ra tiếng đọc nào cho đoạn văn bản này.",
                detail=f"no audible samples for {text[:80]!r}",
            )
        return pcm


def _resolve_voice(library: _Library, spec: str) -> tuple[VoiceInfo, str | None]:
    """Find the voice a spec names: a language code, a voice file name or its identifier (any case)."""
    match = _VOICE_SPEC.match(spec)
    base: VoiceInfo | None = None
    variant = None
    if match:
        wanted = match["voice"].lower()
        variant = match["variant"]
        # The library lists voices by language then priority, so the first match is the preferred one.
        for voice in library.voices:
            keys = {voice.identifier.lower(), voice.identifier.rsplit("/", 1)[-1].lower(), *voice.languages}
            if wanted in keys and not voice.identifier.startswith("mb/"):
                base = voice
                break
    variant_ok = variant is None or (library.data_path / "voices" / "!v" / variant).is_file()
    if base is None or not variant_ok:
        vietnamese = ", ".join(
            sorted(code for voice in library.voices for code in voice.languages if code.startswith("vi"))
        )
        raise UnknownVoice(
            f"espeak-ng không có giọng «{spec}». Các giọng tiếng Việt: {vietnamese}"
            " (có thể thêm biến thể, ví dụ vi+f3).",
            detail=f"unknown espeak voice {spec!r}",
        )
    return base, variant
