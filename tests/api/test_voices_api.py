"""Choosing voices over HTTP: the voice list, a bulletin's voice, a commune's default voice and rate,
and the airing path reading with them (real Piper with the tests' tiny voice, real espeak-ng)."""

from __future__ import annotations

import hashlib

from broadcaster.models import BulletinStatus
from broadcaster.services.programming.plan import load_candidates
from broadcaster.speech import ProgrammePiece
from tests.api.world import World, looks_vietnamese, today
from tests.fakes.piper_voice import write_voice

API = "/api/v1"
PIPER = "piper:vi_VN-test-x_low"
TEXT = "Sáng thứ Hai, trạm y tế xã tiêm phòng cho trẻ em."


def _install_voice(world: World) -> None:
    write_voice(world.settings.effective_voices_dir)  # the operator copies a voice in while it runs


def test_the_voice_list_shows_what_the_server_can_read_with(world: World) -> None:
    before = {v["choice"]: v for v in world.client.get(f"{API}/voices", headers=world.headers()).json()}
    assert before["espeak:vi"]["usable"] and not before["piper:-"]["usable"]
    assert "Chưa có giọng nào" in before["piper:-"]["problem"]
    _install_voice(world)
    after = {v["choice"]: v for v in world.client.get(f"{API}/voices", headers=world.headers()).json()}
    assert after[PIPER]["usable"] and after[PIPER]["sample_rate"] == 22050 and after[PIPER]["language"] == "vi_VN"
    assert "piper:-" not in after
    assert world.client.get(f"{API}/voices").status_code == 401


def test_a_bulletin_is_read_in_its_voice(world: World) -> None:
    _install_voice(world)
    created = world.client.post(f"{API}/bulletins", json={"title": "Tiêm phòng", "text": TEXT, "voice": PIPER},
                                headers=world.headers())
    assert created.status_code == 201, created.text
    assert created.json()["voice"] == PIPER
    preview = world.client.get(f"{API}/bulletins/{created.json()['id']}/preview", headers=world.headers())
    assert preview.status_code == 200
    speech = world.runtime.speech
    piper = speech.render_text(TEXT, voice=PIPER)
    assert piper.engine == "piper" and piper.cache_hit  # the preview rendered exactly this
    assert hashlib.sha256(preview.content).hexdigest() == piper.sha256
    assert speech.render_text(TEXT, voice="espeak:vi").sha256 != piper.sha256

    cleared = world.client.patch(f"{API}/bulletins/{created.json()['id']}", json={"voice": ""},
                                 headers=world.headers())
    assert cleared.status_code == 200 and cleared.json()["voice"] is None


def test_an_unknown_voice_is_refused_naming_the_choices(world: World) -> None:
    for voice, code in [("piper:vi_VN-test-x_low", "tts_unknown_voice"), ("espeak:klingon", "tts_unknown_voice"),
                        ("../../etc/passwd", "tts_unknown_voice"), ("festival:kal", "tts_unknown_engine")]:
        answer = world.client.post(f"{API}/bulletins", json={"title": "Tiêm phòng", "text": TEXT, "voice": voice},
                                   headers=world.headers())
        assert answer.status_code == 422, (voice, answer.text)
        error = answer.json()["error"]
        assert error["code"] == code and looks_vietnamese(error["message"])
    assert "espeak:vi-vn-x-south" in error["message"] or code == "tts_unknown_engine"


def test_a_commune_default_voice_and_rate_reach_the_airing(world: World) -> None:
    _install_voice(world)
    commune_id = world.communes["A"].id
    bulletin_id = world.bulletin(status=BulletinStatus.APPROVED, text=TEXT)
    plain = world.client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=world.headers())

    bad = world.client.patch(f"{API}/communes/{commune_id}", json={"default_voice": "piper:nope"},
                             headers=world.headers("admin"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "tts_unknown_voice"
    changed = world.client.patch(f"{API}/communes/{commune_id}", json={"default_voice": PIPER, "speech_rate": 0.8},
                                 headers=world.headers("admin"))
    assert changed.status_code == 200, changed.text
    assert (changed.json()["default_voice"], changed.json()["speech_rate"]) == (PIPER, 0.8)

    slower = world.client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=world.headers())
    assert slower.content != plain.content
    with world.db.session() as session:
        (candidate,) = load_candidates(session, commune_id, today(), world.runtime.uploads.directory)
    assert (candidate.voice, candidate.rate) == (PIPER, 0.8)
    speech = world.runtime.speech
    master = speech.master(candidate.piece())  # what a session's programme is built from
    normal = speech.master(ProgrammePiece(text=TEXT, voice=PIPER))
    assert master.engine == "piper" and master.duration_s > normal.duration_s * 1.15

    back = world.client.patch(f"{API}/communes/{commune_id}", json={"default_voice": "", "speech_rate": 0},
                              headers=world.headers("admin"))
    assert (back.json()["default_voice"], back.json()["speech_rate"]) == (None, None)
    too_slow = world.client.patch(f"{API}/communes/{commune_id}", json={"speech_rate": 0.3},
                                  headers=world.headers("admin"))
    assert too_slow.status_code == 422 and too_slow.json()["error"]["code"] == "tts_invalid_rate"
