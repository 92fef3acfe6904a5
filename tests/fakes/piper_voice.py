"""A tiny Piper voice of the real file format, built with the ``onnx`` package for tests and benchmarks.

Real Piper voices are VITS models of 20-75 MB that no package ships and nothing may download. This
one has the same interface (inputs ``input`` [1, N] int64 phoneme ids, ``input_lengths`` [1] int64,
``scales`` [3] float32 noise/length/noise-w; output ``output`` [1, 1, T] float32), so ``PiperVoice``
from ``piper-tts`` loads and runs it through onnxruntime exactly as it runs a real one. Its sound is
a deterministic tone: each phoneme id gets ``samples_per_id × length_scale`` samples at a pitch that
depends on the id, so the length follows the number of ids and the speaking rate, and a different
mapping or model gives different audio.

Its JSON config maps the phonemes espeak-ng's Vietnamese phonemizer emits (``VIETNAMESE_PHONEMES``)
to ids, the way a real Vietnamese voice's ``phoneme_id_map`` does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

# Piper's control symbols: padding between phonemes, beginning and end of a sentence.
CONTROL = ["_", "^", "$"]
# Everything espeak-ng's "vi" voice emits for Vietnamese text (IPA letters, stress and length marks,
# tone digits, the dental diacritic) plus the clause punctuation Piper keeps. Found by phonemizing
# the coverage text in tests/tts/test_piper_engine.py, which checks it stays complete.
VIETNAMESE_PHONEMES = list(" !,-.:;?") + list("124567") + list("abcdefhijklmnopstuvwxyz") + [
    "ŋ", "ɑ", "ɒ", "ɔ", "ɗ", "ə", "ɛ", "ɜ", "ɡ", "ɣ", "ɪ", "ɲ", "ʃ", "ʊ", "ʌ", "ʒ", "ʲ", "ˈ", "ˌ", "ː",
    "\u032a",  # combining bridge below: the dental t̪ of Vietnamese "t", "th"
]
DEFAULT_SAMPLES_PER_ID = 512  # ~23 ms at 22.05 kHz: about 3.5 syllables a second, like a careful reader


def phoneme_id_map(phonemes: list[str] | None = None) -> dict[str, list[int]]:
    """The id map of the test voice: control symbols first, then each phoneme once."""
    symbols = CONTROL + [p for p in dict.fromkeys(phonemes or VIETNAMESE_PHONEMES) if p not in CONTROL]
    return {symbol: [index] for index, symbol in enumerate(symbols)}


def tone_model(
    *, sample_rate: int = 22050, samples_per_id: int = DEFAULT_SAMPLES_PER_ID, base_hz: float = 180.0,
    step_hz: float = 9.0,
) -> onnx.ModelProto:
    """The ONNX graph: one tone segment per phoneme id, pitch ``base_hz + step_hz × id``."""
    f = TensorProto.FLOAT
    const = [
        helper.make_tensor("zero", f, [], [0.0]),
        helper.make_tensor("one", f, [], [1.0]),
        helper.make_tensor("per_id", f, [], [float(samples_per_id)]),
        helper.make_tensor("base_hz", f, [], [base_hz]),
        helper.make_tensor("step_hz", f, [], [step_hz]),
        helper.make_tensor("radians_per_sample", f, [], [2.0 * math.pi / sample_rate]),
        helper.make_tensor("amplitude", f, [], [0.5]),
        helper.make_tensor("length_index", TensorProto.INT64, [], [1]),
        helper.make_tensor("batch_axis", TensorProto.INT64, [1], [0]),
        helper.make_tensor("one_int", TensorProto.INT64, [], [1]),
        helper.make_tensor("out_shape", TensorProto.INT64, [3], [1, 1, -1]),
    ]
    nodes = [
        helper.make_node("Squeeze", ["input", "batch_axis"], ["ids"]),  # [N]
        helper.make_node("Squeeze", ["input_lengths", "batch_axis"], ["count"]),  # N, as a scalar
        helper.make_node("Cast", ["count"], ["count_f"], to=f),
        helper.make_node("Sub", ["count", "one_int"], ["last_index"]),
        helper.make_node("Gather", ["scales", "length_index"], ["length_scale"]),
        helper.make_node("Mul", ["length_scale", "per_id"], ["segment"]),  # samples per id
        helper.make_node("Mul", ["count_f", "segment"], ["total_raw"]),
        helper.make_node("Floor", ["total_raw"], ["total"]),
        helper.make_node("Range", ["zero", "total", "one"], ["t"]),  # sample index, [T]
        helper.make_node("Div", ["t", "segment"], ["position"]),
        helper.make_node("Floor", ["position"], ["position_floor"]),
        helper.make_node("Cast", ["position_floor"], ["position_int"], to=TensorProto.INT64),
        helper.make_node("Min", ["position_int", "last_index"], ["which"]),
        helper.make_node("Gather", ["ids", "which"], ["id_at"]),
        helper.make_node("Cast", ["id_at"], ["id_f"], to=f),
        helper.make_node("Mul", ["id_f", "step_hz"], ["rise"]),
        helper.make_node("Add", ["rise", "base_hz"], ["pitch"]),
        helper.make_node("Mod", ["t", "segment"], ["local_t"], fmod=1),  # small numbers keep float32 exact
        helper.make_node("Mul", ["pitch", "local_t"], ["cycles"]),
        helper.make_node("Mul", ["cycles", "radians_per_sample"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "amplitude"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "out_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "broadcaster-test-tone-voice",
        inputs=[
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", f, [3]),
        ],
        outputs=[helper.make_tensor_value_info("output", f, [1, 1, "samples"])],
        initializer=const,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="broadcaster-tests")
    model.ir_version = 8  # readable by every onnxruntime piper-tts accepts
    onnx.checker.check_model(model)
    return model


def voice_config(*, sample_rate: int = 22050, **overrides: Any) -> dict[str, Any]:
    """A Piper voice config like the published Vietnamese ones (keys as in vi_VN-*.onnx.json)."""
    id_map = phoneme_id_map()
    config: dict[str, Any] = {
        "dataset": "broadcaster-test-tone",
        "audio": {"sample_rate": sample_rate, "quality": "x_low"},
        "espeak": {"voice": "vi"},
        "language": {"code": "vi_VN", "family": "vi", "region": "VN", "name_native": "Tiếng Việt"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": id_map,
        "num_symbols": len(id_map),
        "num_speakers": 1,
        "speaker_id_map": {},
        "piper_version": "1.0.0",
        "license": "CC0-1.0 (broadcaster test voice)",
    }
    config.update(overrides)
    return config


def write_voice(
    directory: Path, name: str = "vi_VN-test-x_low", *, sample_rate: int = 22050, base_hz: float = 180.0,
    config: dict[str, Any] | None = None,
) -> Path:
    """Write ``<name>.onnx`` and ``<name>.onnx.json`` into ``directory``; return the model's path."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"{name}.onnx"
    onnx.save(tone_model(sample_rate=sample_rate, base_hz=base_hz), str(model_path))
    config_data = config if config is not None else voice_config(sample_rate=sample_rate)
    Path(f"{model_path}.json").write_text(json.dumps(config_data, ensure_ascii=False, indent=1), encoding="utf-8")
    return model_path
