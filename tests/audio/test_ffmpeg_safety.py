"""Every ffmpeg call names its input format, whitelists its protocols and has a deadline, whichever ffmpeg runs.

A shim named ``ffmpeg`` first on PATH (what ``ffmpeg_exe`` picks, like a system ffmpeg) logs its
arguments and runs the real binary; the pipeline runs in a child process that sees only the shim.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from broadcaster.audio.ffmpeg import sniff_format
from broadcaster.config import PROJECT_ROOT

SEPARATOR = "\x1f"
PIPELINE = """
import sys
from pathlib import Path
from broadcaster.audio.codec import decode_audio, encode_audio
from broadcaster.audio.loudness import measure_loudness
from broadcaster.audio.pcm import Pcm
from broadcaster.audio.render import RenderOptions, render, render_upload
import numpy as np
folder = Path(sys.argv[1])
tone = Pcm((0.3 * np.sin(np.arange(22050 * 3) * 2 * np.pi * 440 / 22050)).astype(np.float32))
(folder / "tone.wav").write_bytes(encode_audio(tone, "wav"))
mp3 = render(tone, RenderOptions(chime=False))
(folder / "tone.mp3").write_bytes(mp3.data)
decode_audio(folder / "tone.wav")
decode_audio(mp3.data)
measure_loudness(folder / "tone.mp3")
measure_loudness(mp3.data)
render_upload(folder / "tone.wav", RenderOptions(chime=True, fmt="ogg"))
print("ok")
"""
HANGING = """
import sys
from broadcaster.audio import ffmpeg
from broadcaster.audio.codec import UnreadableAudio, decode_audio, encode_audio
from broadcaster.audio.pcm import Pcm
from broadcaster.audio.render import render
import numpy as np
ffmpeg.BASE_TIMEOUT_S, ffmpeg.TIMEOUT_PER_AUDIO_S = 1.0, 0.0
tone = Pcm((0.3 * np.sin(np.arange(22050) * 0.1)).astype(np.float32))
for name, call, expected in [("encode", lambda: encode_audio(tone), ffmpeg.FfmpegTimeout),
                             ("render", lambda: render(tone), ffmpeg.FfmpegTimeout),
                             ("decode", lambda: decode_audio(sys.argv[1]), UnreadableAudio)]:
    try:
        call()
    except expected as error:
        print(name, error.code, "killed" in (error.detail or ""))
"""


def _shim(folder: Path, body: str) -> dict[str, str]:
    folder.mkdir()
    shim = folder / "ffmpeg"
    shim.write_text(f"#!/bin/sh\n{body}\n")
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(PROJECT_ROOT)}


def _inputs(args: list[str]) -> list[tuple[list[str], str]]:
    """Each ``-i`` with the options given since the previous one."""
    found, start = [], 0
    for index, arg in enumerate(args):
        if arg == "-i":
            found.append((args[start:index], args[index + 1]))
            start = index + 2
    return found


def test_every_input_has_a_format_and_a_protocol_whitelist(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    real = imageio_ffmpeg.get_ffmpeg_exe()
    env = _shim(tmp_path / "bin", f'printf "%s{SEPARATOR}" "$@" >> {log}; echo >> {log}; exec {real} "$@"')
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([sys.executable, "-c", PIPELINE, str(work)], env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
    calls = [line.rstrip(SEPARATOR).split(SEPARATOR) for line in log.read_text().splitlines() if line]
    assert len(calls) >= 8  # encodes, meters, decodes: all went through the shim
    for args in calls:
        inputs = _inputs(args)
        assert inputs, args
        for options, source in inputs:
            assert "-f" in options, args
            whitelist = options[options.index("-protocol_whitelist") + 1]
            assert (whitelist, source.split(":", 1)[0]) in {("file", "file"), ("pipe", "pipe")}, args


def test_a_hanging_ffmpeg_is_killed_at_its_deadline(tmp_path: Path) -> None:
    env = _shim(tmp_path / "bin", "exec sleep 600")
    recording = tmp_path / "ghi-am.wav"
    recording.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    result = subprocess.run([sys.executable, "-c", HANGING, str(recording)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split("\n")[:3] == [
        "encode audio_ffmpeg_timeout True", "render audio_ffmpeg_timeout True", "decode audio_unreadable True",
    ], result.stderr[-2000:]


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n", None),  # an HLS playlist naming other files
        (b"ffconcat version 1.0\nfile /etc/passwd\n", None),  # a concat script
        (b"<?xml version='1.0'?><MPD", None),  # DASH manifest
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),
        (b"\x00\x00\x00\x20ftypM4A ", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f", "matroska"),
        (b"OggS\x00\x02", "ogg"),
        (b"#!AMR\n", "amr"),
    ],
)
def test_only_audio_formats_are_recognised(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt
