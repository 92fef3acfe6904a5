"""The hand-off from programming to delivery: programmes as JSON, one failure never silences the rest,
the recording hand-off's file (one fsynced JSON line per call) and the ``handoff`` setting."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.errors import InvalidInput
from broadcaster.models import Priority
from broadcaster.services.handoff import (
    ClusterProgramme,
    RecordingHandoff,
    UnknownHandoff,
    hand_off_each,
    handoff_from_spec,
    read_records,
)
from broadcaster.speech import RenderedAudio

PLAY_AT = datetime(2025, 6, 1, 6, 30, tzinfo=LOCAL_ZONE)


def _programme(cluster_id: int, *, airing_id: int = 12, priority: Priority = Priority.NORMAL) -> ClusterProgramme:
    audio = RenderedAudio(path=Path("/srv/cache/ab.mp3"), sha256="ab" * 32, size=48000, duration_s=61.5,
                          engine="programme", voice="vi-north", cache_hit=False, integrated_lufs=-16.0,
                          true_peak_dbtp=-1.5, fmt="mp3", failures=(("google", "hết hạn mức"),))
    return ClusterProgramme(airing_id=airing_id, cluster_id=cluster_id, audio=audio, play_at=PLAY_AT,
                            expires_at=PLAY_AT + timedelta(minutes=10), priority=priority)


def test_a_programme_as_json_has_every_field_as_text_or_number() -> None:
    assert _programme(3, priority=Priority.EMERGENCY).to_json() == {
        "airing_id": 12,
        "cluster_id": 3,
        "audio": {"path": "/srv/cache/ab.mp3", "sha256": "ab" * 32, "size": 48000, "duration_s": 61.5,
                  "engine": "programme", "voice": "vi-north", "cache_hit": False, "integrated_lufs": -16.0,
                  "true_peak_dbtp": -1.5, "fmt": "mp3", "failures": (("google", "hết hạn mức"),)},
        "play_at": "2025-06-01T06:30:00+07:00",
        "expires_at": "2025-06-01T06:40:00+07:00",
        "priority": "emergency",
    }


class _Refusing(RecordingHandoff):
    """Records, except for the clusters it raises for (with or without a message)."""

    def __init__(self, errors: dict[int, Exception]) -> None:
        super().__init__()
        self.errors = errors

    def hand_off(self, programme: ClusterProgramme) -> None:
        if programme.cluster_id in self.errors:
            raise self.errors[programme.cluster_id]
        super().hand_off(programme)


def test_one_clusters_failure_never_keeps_the_others_silent() -> None:
    handoff = _Refusing({2: RuntimeError("không liên lạc được"), 4: KeyError()})
    failed = hand_off_each(handoff, [_programme(cluster) for cluster in (1, 2, 3, 4, 5)])

    assert failed == {2: "không liên lạc được", 4: "KeyError"}  # an error without a message is named
    assert [p.cluster_id for p in handoff.programmes] == [1, 3, 5]
    assert hand_off_each(handoff, []) == {}


def test_the_recording_handoff_keeps_every_call_in_memory_and_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "handoff.jsonl"
    handoff = RecordingHandoff(path)
    assert path.parent.is_dir()  # made at once, so a reader can watch it before the first call
    assert handoff.hand_off_many([_programme(1), _programme(2)], keep_issued=True) == {}
    handoff.stop(12, [1, 2])
    RecordingHandoff(path)  # a second run over the same folder appends, it does not fail or truncate
    handoff.hand_off(_programme(3, airing_id=13))

    assert [p.cluster_id for p in handoff.programmes] == [1, 2, 3] and handoff.stops == [(12, (1, 2))]
    records = read_records(path)
    assert [(r["event"], r.get("cluster_id"), r["airing_id"]) for r in records] == [
        ("hand_off", 1, 12), ("hand_off", 2, 12), ("stop", None, 12), ("hand_off", 3, 13)]
    assert records[0] == {"event": "hand_off", **json.loads(json.dumps(_programme(1).to_json()))}
    assert records[2] == {"event": "stop", "airing_id": 12, "cluster_ids": [1, 2]}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and "hết hạn mức" in lines[0]  # one line per call, Vietnamese written as itself


def test_without_a_path_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    handoff = RecordingHandoff()
    handoff.hand_off(_programme(1))
    handoff.stop(12, [1])
    assert handoff.path is None and list(tmp_path.iterdir()) == []
    assert len(handoff.programmes) == 1 and handoff.stops == [(12, (1,))]


def test_calls_from_many_threads_are_all_kept_whole(tmp_path: Path) -> None:
    handoff = RecordingHandoff(tmp_path / "handoff.jsonl")
    threads = [threading.Thread(target=lambda n=n: [handoff.hand_off(_programme(n * 100 + i)) for i in range(20)])
               for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handoff.programmes) == 80
    assert sorted(r["cluster_id"] for r in read_records(tmp_path / "handoff.jsonl")) == sorted(
        p.cluster_id for p in handoff.programmes)


def test_read_records_skips_blank_lines_and_a_missing_file(tmp_path: Path) -> None:
    assert read_records(tmp_path / "absent.jsonl") == []
    assert read_records(tmp_path) == []  # a folder is no record file
    path = tmp_path / "handoff.jsonl"
    path.write_text('{"event": "stop"}\n\n   \n{"event": "hand_off"}\n', encoding="utf-8")
    assert read_records(path) == [{"event": "stop"}, {"event": "hand_off"}]


def test_the_handoff_setting(tmp_path: Path) -> None:
    plain = handoff_from_spec("record")
    assert isinstance(plain, RecordingHandoff) and plain.path is None
    to_file = handoff_from_spec(f"record:{tmp_path / 'h.jsonl'}")
    assert isinstance(to_file, RecordingHandoff) and to_file.path == tmp_path / "h.jsonl"
    for spec in ("agents", "recording", ""):
        with pytest.raises(UnknownHandoff) as caught:
            handoff_from_spec(spec)
        assert isinstance(caught.value, InvalidInput) and caught.value.code == "handoff_unknown"
        assert "record:/đường/dẫn.jsonl" in caught.value.message and repr(spec) in (caught.value.detail or "")
