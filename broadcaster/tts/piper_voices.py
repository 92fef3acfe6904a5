"""Piper voice files: found in ``voices_dir``, checked, and loaded once per process.

A voice is two files the operator copies in: ``<name>.onnx`` (the model) and ``<name>.onnx.json``
(its config: sample rate, espeak-ng voice, phoneme id map). Every problem is reported naming the
file and what is wrong with it, so an operator can fix it from the message alone.

Each voice is loaded once per process and kept with the sha256 of the exact bytes onnxruntime got,
so the cache key and the sound always come from the same model. The files are re-checked (stat:
inode, size, modification and change times) on every use: a replaced model is loaded afresh, and a
broken one is not parsed again until it changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster.tts.base import EngineError, UnknownVoice

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger(__name__)

MODEL_SUFFIX = ".onnx"
CONFIG_SUFFIX = ".onnx.json"
# Published voice names look like vi_VN-vais1000-medium; nothing here can name a path elsewhere.
VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,119}$")
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 48000
# Phoneme types that work offline. Others (pinyin...) fetch extra models from the Internet at first use.
OFFLINE_PHONEME_TYPES = ("espeak", "text")
_PIPER_INPUTS = ("input", "input_lengths", "scales")
_CONTROL_SYMBOLS = ("_", "^", "$")
# File times are only as fine as the kernel's clock tick, and copy tools may set them: a file modified
# this close to our last read of it is compared by content, not trusted by its stat.
_RACY_WINDOW_S = 2.0


class VoiceFileProblem(EngineError):
    """A voice's files are missing, unreadable or not a Piper voice; the message names the file."""

    code = "tts_voice_file_unusable"


@dataclass(frozen=True)
class VoiceFiles:
    """Where the two files of one voice are (or would be)."""

    name: str
    model: Path
    config: Path

    @classmethod
    def of(cls, voices_dir: Path, name: str) -> VoiceFiles:
        """The files of voice ``name``; ``UnknownVoice`` for a name that is not a plain voice name."""
        if not VOICE_NAME.match(name) or ".." in name:
            raise UnknownVoice(
                f"Piper không có giọng «{name[:80]}» (tên giọng chỉ gồm chữ, số, '_', '-', '.').",
                detail=f"invalid piper voice name {name!r}",
            )
        return cls(name, voices_dir / f"{name}{MODEL_SUFFIX}", voices_dir / f"{name}{CONFIG_SUFFIX}")


@dataclass(frozen=True)
class VoiceConfig:
    """What the config file says about the voice (checked)."""

    sample_rate: int
    length_scale: float
    language: str | None
    dataset: str | None
    licence: str | None
    phonemes: frozenset[str]  # the keys of phoneme_id_map


@dataclass(frozen=True)
class LoadedVoice:
    """A voice ready to speak, with the hashes of the bytes it was made from."""

    files: VoiceFiles
    config: VoiceConfig
    model_sha256: str
    config_sha256: str
    size_bytes: int
    piper: PiperVoice


def voice_names(voices_dir: Path) -> list[str]:
    """Names of every voice with at least one of its two files in ``voices_dir``, Vietnamese first."""
    if not voices_dir.is_dir():
        return []
    names = set()
    for entry in voices_dir.iterdir():
        for suffix in (CONFIG_SUFFIX, MODEL_SUFFIX):
            if entry.name.endswith(suffix):
                names.add(entry.name[: -len(suffix)])
                break
    return sorted((n for n in names if VOICE_NAME.match(n)), key=lambda n: (not n.lower().startswith("vi"), n))


_Stat = tuple[int, int, int, int] | None


def _stat(path: Path) -> _Stat:
    try:
        found = path.stat()
    except OSError:
        return None
    # ctime cannot be set by a copy tool, so a same-size replacement with an old mtime still shows.
    return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


@dataclass
class _Known:
    state: tuple[_Stat, _Stat]
    outcome: LoadedVoice | VoiceFileProblem
    checked_at: float  # wall time just before the files were last read


class VoiceLoader:
    """Loads each voice once (per path and file state) and remembers what failed and why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path_locks: dict[Path, threading.Lock] = {}
        self._known: dict[Path, _Known] = {}

    def get(self, files: VoiceFiles) -> LoadedVoice:
        """The loaded voice; ``UnknownVoice`` if neither file exists, ``VoiceFileProblem`` if unusable."""
        state = (_stat(files.model), _stat(files.config))
        if state == (None, None):
            raise UnknownVoice(
                f"Piper không có giọng «{files.name}» trong thư mục {files.model.parent}.",
                detail=f"no {files.model.name} or {files.config.name} in {files.model.parent}",
            )
        key = files.model.resolve()
        with self._lock:
            path_lock = self._path_locks.setdefault(key, threading.Lock())
        with path_lock:
            known = self._known.get(key)
            if known is not None and known.state == state and _racy(state, known.checked_at):
                known = self._recheck(files, known)
            if known is None or known.state != state:
                if known is not None:
                    log.info("piper: voice %s changed on disk; loading it again", files.name)
                started = time.time()
                known = _Known(state, self._load(files), started)
                self._known[key] = known
        if isinstance(known.outcome, VoiceFileProblem):
            raise known.outcome
        return known.outcome

    @staticmethod
    def _recheck(files: VoiceFiles, known: _Known) -> _Known | None:
        # A file written within the timestamp granularity of our last read may have changed
        # without its stat changing (as git's "racily clean" index entries): compare the bytes.
        started = time.time()
        loaded = known.outcome
        if isinstance(loaded, VoiceFileProblem):
            return None
        try:
            same = (
                hashlib.sha256(files.model.read_bytes()).hexdigest() == loaded.model_sha256
                and hashlib.sha256(files.config.read_bytes()).hexdigest() == loaded.config_sha256
            )
        except OSError:
            same = False
        if not same:
            return None
        known.checked_at = started
        return known

    def _load(self, files: VoiceFiles) -> LoadedVoice | VoiceFileProblem:
        try:
            return _load_voice(files)
        except VoiceFileProblem as problem:
            log.warning("piper: voice %s unusable: %s", files.name, problem.detail or problem.message)
            return problem


def _racy(state: tuple[_Stat, _Stat], checked_at: float) -> bool:
    newest_ns = max((found[2] for found in state if found is not None), default=0)
    return newest_ns / 1e9 >= checked_at - _RACY_WINDOW_S


def _load_voice(files: VoiceFiles) -> LoadedVoice:
    where = files.model.parent
    if not files.model.is_file():
        raise VoiceFileProblem(
            f"Thiếu tệp mô hình {files.model.name} trong {where} (chỉ có {files.config.name}).",
            detail=f"missing model {files.model}",
        )
    if not files.config.is_file():
        raise VoiceFileProblem(
            f"Thiếu tệp cấu hình {files.config.name} bên cạnh {files.model.name} trong {where}:"
            " cần chép cả hai tệp của giọng.",
            detail=f"missing config {files.config}",
        )
    config_bytes = _read(files.config)
    raw_config, config = parse_config(files.config, config_bytes)
    model_bytes = _read(files.model)
    session = _session(files.model, model_bytes)
    from piper import PiperConfig, PiperVoice

    try:
        piper_config = PiperConfig.from_dict(raw_config)
    except (KeyError, TypeError, ValueError) as exc:
        raise VoiceFileProblem(
            f"Tệp {files.config.name} thiếu hoặc sai mục {exc} mà Piper cần.",
            detail=f"{files.config}: PiperConfig: {type(exc).__name__}: {exc}",
        ) from None
    return LoadedVoice(
        files=files,
        config=config,
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),
        config_sha256=hashlib.sha256(config_bytes).hexdigest(),
        size_bytes=len(model_bytes),
        piper=PiperVoice(session=session, config=piper_config),
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise VoiceFileProblem(
            f"Không đọc được tệp {path.name} ({exc.strerror or exc}).", detail=f"{path}: {exc}"
        ) from None


def _session(model: Path, data: bytes) -> Any:
    import onnxruntime

    if not data:
        raise VoiceFileProblem(f"Tệp mô hình {model.name} trống (0 byte).", detail=f"empty model {model}")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # onnxruntime's own warnings would otherwise go to stderr
    try:
        session = onnxruntime.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own, unexported, exception types
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise VoiceFileProblem(
            f"Tệp mô hình {model.name} hỏng hoặc không phải mô hình ONNX (onnxruntime: {reason[:120]}).",
            detail=f"{model}: {reason}",
        ) from None
    names = {item.name for item in session.get_inputs()}
    missing = [name for name in _PIPER_INPUTS if name not in names]
    if missing or not session.get_outputs():
        raise VoiceFileProblem(
            f"Tệp {model.name} là mô hình ONNX nhưng không phải giọng Piper"
            f" (thiếu đầu vào {', '.join(missing) or 'đầu ra'}).",
            detail=f"{model}: inputs {sorted(names)}",
        )
    return session


def parse_config(path: Path, data: bytes) -> tuple[dict[str, Any], VoiceConfig]:
    """Parse and check a voice config; ``VoiceFileProblem`` names the file and the wrong field."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise VoiceFileProblem(f"Tệp {path.name} không phải văn bản UTF-8.", detail=f"{path}: not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise VoiceFileProblem(
            f"Tệp {path.name} không phải JSON hợp lệ (dòng {exc.lineno}, cột {exc.colno}: {exc.msg}).",
            detail=f"{path}: {exc}",
        ) from None
    if not isinstance(raw, dict):
        raise VoiceFileProblem(f"Tệp {path.name} phải là một đối tượng JSON.", detail=f"{path}: not an object")

    def problem(field: str, what: str) -> VoiceFileProblem:
        return VoiceFileProblem(f"Tệp {path.name}: mục «{field}» {what}.", detail=f"{path}: {field} {what}")

    audio = raw.get("audio")
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if rate is None:
        raise problem("audio.sample_rate", "bị thiếu")
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise problem(
            "audio.sample_rate", f"= {rate!r} không hợp lệ (cần số nguyên từ {MIN_SAMPLE_RATE} đến {MAX_SAMPLE_RATE} Hz)"
        )
    phoneme_type = raw.get("phoneme_type", "espeak")
    if phoneme_type not in OFFLINE_PHONEME_TYPES:
        raise problem("phoneme_type", f"= {phoneme_type!r} cần tải thêm dữ liệu từ Internet, không dùng được ở đây")
    espeak = raw.get("espeak")
    if phoneme_type == "espeak" and not (isinstance(espeak, dict) and isinstance(espeak.get("voice"), str)):
        raise problem("espeak.voice", "bị thiếu")
    id_map = raw.get("phoneme_id_map")
    if not _is_id_map(id_map):
        raise problem("phoneme_id_map", "bị thiếu hoặc không phải bảng âm vị → danh sách số")
    assert isinstance(id_map, dict)
    absent = [symbol for symbol in _CONTROL_SYMBOLS if symbol not in id_map]
    if absent:
        raise problem("phoneme_id_map", f"thiếu ký hiệu điều khiển {' '.join(absent)}")
    for field in ("num_symbols", "num_speakers"):
        if not isinstance(raw.get(field), int):
            raise problem(field, "bị thiếu")
    inference = raw.get("inference")
    length_scale = inference.get("length_scale", 1.0) if isinstance(inference, dict) else 1.0
    if isinstance(length_scale, bool) or not isinstance(length_scale, int | float) or not 0.1 <= length_scale <= 5:
        raise problem("inference.length_scale", f"= {length_scale!r} không hợp lệ (cần 0,1–5)")
    return raw, VoiceConfig(
        sample_rate=rate,
        length_scale=float(length_scale),
        language=_language(raw),
        dataset=_text(raw.get("dataset")),
        licence=_text(raw.get("license") or raw.get("licence")),
        phonemes=frozenset(id_map),
    )


def _is_id_map(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(
            isinstance(key, str) and isinstance(ids, list) and all(isinstance(i, int) for i in ids)
            for key, ids in value.items()
        )
    )


def _language(raw: dict[str, Any]) -> str | None:
    language = raw.get("language")
    if isinstance(language, dict):
        return _text(language.get("code"))
    espeak = raw.get("espeak")
    return _text(espeak.get("voice")) if isinstance(espeak, dict) else None


def _text(value: Any) -> str | None:
    return value.strip()[:200] if isinstance(value, str) and value.strip() else None


_LOADER = VoiceLoader()


def loader() -> VoiceLoader:
    """The process-wide loader: each voice is loaded once per process."""
    return _LOADER

