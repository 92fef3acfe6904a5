"""The natural offline engine: Piper neural voices (``piper-tts``, onnxruntime) from files the operator supplies.

No package ships a Vietnamese Piper voice and nothing may be downloaded at run time, so the engine
reads voices from ``voices_dir`` (``piper_voices.py``). Without a usable voice it raises an
``EngineError`` naming the file and the problem, and the chain hands the bulletin to the next engine.

Piper phonemizes with the espeak-ng built into its own extension module (its data ships in the
wheel), and runs the model through onnxruntime. Both are safe from several threads: Piper holds a
lock around its phonemizer, and an onnxruntime session may run concurrently.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.audio.timeline import conform
from broadcaster.errors import BroadcasterError
from broadcaster.tts.base import (
    EngineError,
    EngineUnavailable,
    NothingToSay,
    SynthesisOptions,
    TtsEngine,
    VoiceListing,
    register_engine,
)
from broadcaster.tts.piper_voices import LoadedVoice, VoiceFiles, loader, voice_names

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)

_SILENCE_PEAK = 0.002  # about -54 dBFS, as for espeak: below this there is no speech
_warned_missing: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@register_engine("piper")
class PiperEngine(TtsEngine):
    """Piper, offline and natural-sounding. Voices: the ``<name>.onnx`` files in ``voices_dir``."""

    name = "piper"
    online = False

    def __init__(
        self, settings: Settings | None = None, *, voices_dir: Path | None = None, voice: str | None = None
    ) -> None:
        if voices_dir is None:
            from broadcaster.config import Settings

            voices_dir = (settings or Settings()).effective_voices_dir
        self.voices_dir = Path(voices_dir)
        self._voice = voice if voice is not None else (settings.piper_voice if settings else None)

    def default_voice(self) -> str:
        """The configured voice, else the first voice in ``voices_dir`` that loads (Vietnamese first)."""
        if self._voice:
            return self._voice
        problems: list[str] = []
        for name in voice_names(self.voices_dir):
            try:
                loader().get(VoiceFiles.of(self.voices_dir, name))
            except EngineError as exc:
                problems.append(exc.message)
                continue
            return name
        if problems:
            raise EngineUnavailable(
                "Không giọng Piper nào dùng được: " + " ".join(problems),
                detail=f"no usable voice in {self.voices_dir}",
            )
        raise EngineUnavailable(
            f"Chưa có giọng Piper nào trong thư mục {self.voices_dir.resolve()}: chép <giọng>.onnx và"
            " <giọng>.onnx.json vào đó (xem README, mục giọng đọc Piper).",
            detail=f"no *.onnx in {self.voices_dir}",
        )

    def voice_identity(self, voice: str) -> dict[str, str]:
        """The sha256 of the voice's model and config files: a replaced model gets new cache keys."""
        loaded = self._load(voice)
        return {"model_sha256": loaded.model_sha256, "config_sha256": loaded.config_sha256}

    def synthesize(self, text: str, options: SynthesisOptions) -> Pcm:
        """Speak ``text`` with the chosen voice; mono PCM at the pipeline rate."""
        if not text.strip():
            raise NothingToSay("Không có chữ nào để đọc.", detail="empty text")
        loaded = self._load(options.voice or self.default_voice())
        from piper import SynthesisConfig

        # Piper's length scale stretches every phoneme: a slower rate is a larger scale.
        config = SynthesisConfig(length_scale=loaded.config.length_scale / options.rate)
        try:
            chunks = list(loaded.piper.synthesize(unicodedata.normalize("NFC", text), config))
        except BroadcasterError:
            raise
        except Exception as exc:  # phonemizer and onnxruntime errors: a failure of this engine, not a crash
            raise EngineError(
                f"Piper gặp lỗi khi đọc bằng giọng «{loaded.files.name}».",
                detail=f"{type(exc).__name__}: {str(exc)[:300]}",
            ) from None
        spoken = [chunk for chunk in chunks if any(unicodedata.category(p).startswith("L") for p in chunk.phonemes)]
        self._warn_missing_phonemes(loaded, [p for chunk in chunks for p in chunk.phonemes])
        if not spoken:
            raise EngineError(
                "Piper không tạo ra tiếng đọc nào cho đoạn văn bản này.", detail=f"no phonemes for {text[:80]!r}"
            )
        samples = np.concatenate([np.asarray(chunk.audio_float_array, dtype=np.float32) for chunk in spoken])
        pcm = conform(Pcm(samples, loaded.config.sample_rate), SAMPLE_RATE)
        if not len(pcm.samples) or float(np.max(np.abs(pcm.samples))) < _SILENCE_PEAK:
            raise EngineError(
                "Piper không tạo ra tiếng đọc nào cho đoạn văn bản này.",
                detail=f"no audible samples for {text[:80]!r}",
            )
        return pcm

    def list_voices(self) -> list[VoiceListing]:
        """Every voice in ``voices_dir``, loaded to prove it works, or with the problem that stops it."""
        listings: list[VoiceListing] = []
        for name in voice_names(self.voices_dir):
            files = VoiceFiles.of(self.voices_dir, name)
            try:
                loaded = loader().get(files)
            except EngineError as exc:
                listings.append(VoiceListing(engine=self.name, name=name, usable=False, problem=exc.message,
                                             path=files.model))
                continue
            listings.append(
                VoiceListing(
                    engine=self.name, name=name, usable=True, language=loaded.config.language,
                    sample_rate=loaded.config.sample_rate, size_bytes=loaded.size_bytes,
                    licence=loaded.config.licence, dataset=loaded.config.dataset, path=files.model,
                )
            )
        if not listings:
            listings.append(
                VoiceListing(
                    engine=self.name, name="-", usable=False,
                    problem=f"Chưa có giọng nào trong {self.voices_dir.resolve()}.",
                )
            )
        return listings

    def _load(self, voice: str) -> LoadedVoice:
        return loader().get(VoiceFiles.of(self.voices_dir, voice))

    def _warn_missing_phonemes(self, loaded: LoadedVoice, phonemes: list[str]) -> None:
        # Piper logs each phoneme its map lacks on every call without naming the voice: say it once, by voice.
        missing = sorted({p for p in phonemes if p not in loaded.config.phonemes})
        if not missing:
            return
        key = (loaded.model_sha256, "".join(missing))
        with _warned_lock:
            if key in _warned_missing:
                return
            _warned_missing.add(key)
        log.warning("piper: voice %s has no id for phonemes %s; they are skipped", loaded.files.name, missing)
