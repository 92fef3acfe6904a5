"""A battery of bad requests: each gets a 4xx with a stable code and a Vietnamese message, never a 500,
and leaves the database and the upload store exactly as they were."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from broadcaster.models import BulletinStatus
from tests.api.world import World, looks_vietnamese, snapshot, today, wav_bytes

API = "/api/v1"
@dataclass
class Bad:
    """One bad request and the answer it must get."""

    name: str
    method: str
    path: str | Callable[[World], str]
    status: int
    code: str
    json: Any = None
    content: bytes | None = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    actor: str = "officer"


def text_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Thông báo", "text": "Chiều nay họp dân ở nhà văn hóa thôn."}
    body.update(overrides)
    return body


def recording(content: bytes, name: str = "tin.mp3", content_type: str = "audio/mpeg") -> dict[str, Any]:
    return {"file": (name, content, content_type)}


YESTERDAY = (today() - timedelta(days=1)).isoformat()
TOMORROW = (today() + timedelta(days=1)).isoformat()
JSON = {"Content-Type": "application/json"}


def foreign_zone(world: World) -> dict[str, Any]:
    return text_body(zone_ids=[world.communes["B"].zone_id])


CASES: list[Bad] = [
    Bad("empty text", "POST", f"{API}/bulletins", 422, "text_empty", json=text_body(text="")),
    Bad("whitespace text", "POST", f"{API}/bulletins", 422, "text_empty", json=text_body(text=" \n\t  ")),
    Bad("100 kB text", "POST", f"{API}/bulletins", 422, "text_too_long", json=text_body(text="Thông báo. " * 9000)),
    Bad("emoji only", "POST", f"{API}/bulletins", 422, "text_nothing_to_speak", json=text_body(text="🎉🔥📢🙏")),
    Bad("blank title", "POST", f"{API}/bulletins", 422, "title_invalid", json=text_body(title="   ")),
    # What the approver sees must be what is read (issue 10, item 1).
    Bad("bidi override in text", "POST", f"{API}/bulletins", 422, "text_bidi_control",
        json=text_body(text="Họp lúc \u202e03:71\u202c, tiền 500.000 đồng.")),
    Bad("bidi isolate in title", "POST", f"{API}/bulletins", 422, "text_bidi_control",
        json=text_body(title="Họp lúc \u2067 30:07 \u2069")),
    Bad("zero-width inside a number", "POST", f"{API}/bulletins", 422, "text_invisible_in_number",
        json=text_body(text="Nộp 1\u200b000.000 đồng.")),
    Bad("Arabic-Indic digits", "POST", f"{API}/bulletins", 422, "text_confusable_characters",
        json=text_body(text="Họp lúc ٧h٣٠.")),
    Bad("4,400-digit number", "POST", f"{API}/bulletins", 422, "text_spoken_too_long",
        json=text_body(text="Số " + "7" * 4400)),
    Bad("20,000 characters of dates", "POST", f"{API}/bulletins", 422, "text_spoken_too_long",
        json=text_body(text="15/12/2026 " * 1800)),
    Bad("NUL in text", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(text="họp\x00dân")),
    Bad("lone surrogate", "POST", f"{API}/bulletins", 422, "validation_error",
        content=b'{"title": "T", "text": "h\\ud800p"}', headers=JSON),
    Bad("unknown zone", "POST", f"{API}/bulletins", 422, "target_unknown", json=text_body(zone_ids=[987654])),
    Bad("unknown cluster", "POST", f"{API}/bulletins", 422, "target_unknown", json=text_body(cluster_ids=[987654])),
    Bad("end before start", "POST", f"{API}/bulletins", 422, "window_invalid",
        json=text_body(start_date=TOMORROW, end_date=today().isoformat())),
    Bad("window in the past", "POST", f"{API}/bulletins", 422, "window_in_past",
        json=text_body(start_date=(today() - timedelta(days=5)).isoformat(), end_date=YESTERDAY)),
    Bad("window of years", "POST", f"{API}/bulletins", 422, "window_invalid",
        json=text_body(start_date=TOMORROW, end_date=(today() + timedelta(days=800)).isoformat())),
    Bad("date nonsense", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(start_date="2026-13-45")),
    Bad("year 1", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(end_date="0001-01-01")),
    Bad("repeat 0", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(repeat=0)),
    Bad("repeat 1000", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(repeat=1000)),
    Bad("repeat text", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(repeat="ba")),
    Bad("huge id", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(zone_ids=[2**70])),
    Bad("unknown priority", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(priority="urgent")),
    Bad("unknown field", "POST", f"{API}/bulletins", 422, "validation_error", json=text_body(status="approved")),
    Bad("missing text", "POST", f"{API}/bulletins", 422, "validation_error", json={"title": "Thiếu nội dung"}),
    Bad("invalid JSON", "POST", f"{API}/bulletins", 422, "invalid_json", content=b'{"title": "x", "text": ',
        headers=JSON),
    Bad("JSON array", "POST", f"{API}/bulletins", 422, "validation_error", json=["title", "text"]),
    Bad("text/plain body", "POST", f"{API}/bulletins", 415, "unsupported_media_type", content="Thông báo".encode(),
        headers={"Content-Type": "text/plain"}),
    Bad("form to JSON endpoint", "POST", f"{API}/bulletins", 415, "unsupported_media_type",
        data={"title": "x", "text": "y"}),
    Bad("JSON to upload endpoint", "POST", f"{API}/bulletins/recording", 415, "unsupported_media_type",
        json=text_body()),
    Bad("corrupt recording", "POST", f"{API}/bulletins/recording", 422, "audio_unreadable",
        data={"title": "Ghi âm"}, files=recording(os.urandom(4096))),
    Bad("HTML as recording", "POST", f"{API}/bulletins/recording", 422, "audio_unreadable",
        data={"title": "Ghi âm"}, files=recording(b"<html><script>alert(1)</script></html>", "x.html", "text/html")),
    Bad("empty recording", "POST", f"{API}/bulletins/recording", 422, "audio_unreadable",
        data={"title": "Ghi âm"}, files=recording(b"")),
    Bad("recording without file", "POST", f"{API}/bulletins/recording", 422, "validation_error",
        data={"title": "Ghi âm"}, files={"other": ("a.txt", b"x", "text/plain")}),
    Bad("recording past window", "POST", f"{API}/bulletins/recording", 422, "window_in_past",
        data={"title": "Ghi âm", "end_date": YESTERDAY, "start_date": YESTERDAY}, files=recording(wav_bytes(0.2))),
    Bad("no token", "POST", f"{API}/bulletins", 401, "token_missing", json=text_body(), actor="none"),
    Bad("forged token", "POST", f"{API}/bulletins", 401, "token_invalid", json=text_body(), actor="forged"),
    Bad("malformed auth header", "GET", f"{API}/bulletins", 401, "token_missing", actor="none",
        headers={"Authorization": "Basic b2ZmaWNlcjpwYXNz"}),
    Bad("bad idempotency key", "POST", f"{API}/bulletins", 422, "idempotency_key_invalid", json=text_body(),
        headers={"Idempotency-Key": "has spaces in it"}),
    Bad("id too large in path", "GET", f"{API}/bulletins/99999999999999999999", 422, "validation_error"),
    Bad("id not a number", "GET", f"{API}/bulletins/abc", 422, "validation_error"),
    Bad("unknown bulletin", "GET", f"{API}/bulletins/424242", 404, "bulletin_not_found"),
    Bad("limit 0", "GET", f"{API}/bulletins", 422, "validation_error", params={"limit": 0}),
    Bad("search too long", "GET", f"{API}/bulletins", 422, "validation_error", params={"q": "x" * 300}),
    Bad("unknown route", "GET", f"{API}/khong-co", 404, "not_found"),
    Bad("wrong method", "PUT", f"{API}/bulletins", 405, "method_not_allowed", json=text_body()),
    Bad("commune code", "POST", f"{API}/communes", 422, "commune_code_invalid", json={"code": "Xã A!", "name": "X"},
        actor="province"),
    Bad("unknown timetable", "POST", f"{API}/communes", 422, "timetable_unknown",
        json={"code": "xa-c", "name": "Xã C", "timetable": "khong-co"}, actor="province"),
    Bad("username", "POST", f"{API}/users", 422, "username_invalid",
        json={"username": "Tên Có Dấu", "password": "mat-khau-du-dai", "role": "officer"}, actor="admin"),
    Bad("weak password", "POST", f"{API}/users", 422, "password_too_weak",
        json={"username": "canbo2", "password": "123", "role": "officer"}, actor="admin"),
    Bad("taken username", "POST", f"{API}/users", 409, "username_taken",
        json={"username": "officer-a", "password": "mat-khau-du-dai", "role": "officer"}, actor="admin"),
    Bad("timetable nonsense", "PUT", lambda w: f"{API}/communes/{w.communes['A'].id}/timetable", 422,
        "timetable_invalid", json={"sessions": [{"name": "sang", "start": "25:00", "days": ["mon"],
                                                 "max_minutes": 15}]}, actor="admin"),
    Bad("timetable overlap", "PUT", lambda w: f"{API}/communes/{w.communes['A'].id}/timetable", 422,
        "timetable_invalid", json={"sessions": [
            {"name": "a", "start": "06:00", "days": ["mon"], "max_minutes": 30},
            {"name": "b", "start": "06:10", "days": ["mon"], "max_minutes": 15}]}, actor="admin"),
    Bad("upcoming 99 days", "GET", lambda w: f"{API}/communes/{w.communes['A'].id}/timetable/upcoming", 422,
        "validation_error", params={"days": 99}),
    Bad("log date", "GET", f"{API}/broadcast-log", 422, "validation_error", params={"date_from": "hôm qua"}),
    Bad("log foreign cluster", "GET", f"{API}/broadcast-log.csv", 404, "cluster_not_found",
        params={"cluster_id": 987654}),
]


def test_every_bad_input_is_refused_cleanly(world: World) -> None:
    failures = []
    # The foreign-target cases need the seeded ids.
    cases = [*CASES,
             Bad("foreign zone", "POST", f"{API}/bulletins", 422, "target_unknown", json=foreign_zone(world)),
             Bad("foreign cluster", "POST", f"{API}/bulletins", 422, "target_unknown",
                 json=text_body(cluster_ids=[world.communes["B"].cluster_id])),
             Bad("foreign commune", "POST", f"{API}/bulletins", 404, "commune_not_found",
                 json=text_body(commune_id=world.communes["B"].id)),
             Bad("other commune's bulletin", "GET", f"{API}/bulletins/{world.bulletin('B')}", 404,
                 "bulletin_not_found")]
    for case in cases:
        before = snapshot(world)
        path = case.path(world) if callable(case.path) else case.path
        response = world.client.request(case.method, path, json=case.json, content=case.content, data=case.data,
                                        files=case.files, params=case.params,
                                        headers={**world.headers(case.actor), **case.headers})
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        error = body.get("error", {})
        problems = []
        if response.status_code != case.status:
            problems.append(f"status {response.status_code}, want {case.status}")
        if error.get("code") != case.code:
            problems.append(f"code {error.get('code')!r}, want {case.code!r}")
        if not looks_vietnamese(error.get("message", "")):
            problems.append(f"message not Vietnamese: {error.get('message')!r}")
        if snapshot(world) != before:
            problems.append("stored data changed")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)} — {response.text[:300]}")
    assert not failures, "\n".join(failures)


def test_validation_errors_list_the_fields_in_vietnamese(world: World) -> None:
    response = world.client.post(f"{API}/bulletins", json=text_body(repeat=0, priority="x"),
                                 headers=world.headers())
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {f["field"]: f for f in error["fields"]}
    assert set(fields) == {"body.repeat", "body.priority"}
    assert fields["body.repeat"]["message"] == "Phải lớn hơn hoặc bằng 1."
    assert all(looks_vietnamese(f["message"]) for f in error["fields"])


@pytest.mark.parametrize("status", [BulletinStatus.CANCELLED, BulletinStatus.APPROVED, BulletinStatus.REJECTED])
def test_approving_a_settled_bulletin_conflicts_and_changes_nothing(world: World, status: BulletinStatus) -> None:
    bulletin_id = world.bulletin(status=status)
    before = snapshot(world)
    response = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "bulletin_wrong_status"
    assert looks_vietnamese(response.json()["error"]["message"])
    assert snapshot(world) == before


def test_editing_a_recording_text_is_refused(world: World) -> None:
    created = world.client.post(f"{API}/bulletins/recording", data={"title": "Ghi âm"},
                                files=recording(wav_bytes(0.2), "a.wav", "audio/wav"), headers=world.headers())
    before = snapshot(world)
    response = world.client.patch(f"{API}/bulletins/{created.json()['id']}", json={"text": "Thêm chữ"},
                                  headers=world.headers())
    assert response.status_code == 422 and response.json()["error"]["code"] == "content_invalid"
    assert snapshot(world) == before


def test_a_failed_upload_leaves_no_temporary_file(world: World) -> None:
    world.client.post(f"{API}/bulletins/recording", data={"title": "Ghi âm"}, files=recording(os.urandom(50_000)),
                      headers=world.headers())
    uploads = world.settings.data_dir / "uploads"
    assert not uploads.is_dir() or list(uploads.iterdir()) == []
