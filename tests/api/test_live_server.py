"""End to end against a real uvicorn on 127.0.0.1, over real HTTP (httpx and raw sockets)."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broadcaster.app import create_app
from broadcaster.audio.codec import decode_audio
from broadcaster.services.handoff import RecordingHandoff
from tests.api.world import PASSWORD, Template, World, looks_vietnamese, make_settings, snapshot
from tests.fakes.live_server import LiveServer
from tests.fakes.serve_process import start_serve_process

API = "/api/v1"


@pytest.fixture
def scheduled_world(template: Template, tmp_path: Path) -> Iterator[tuple[World, LiveServer]]:
    """The real configuration: scheduler on, served by uvicorn."""
    settings = make_settings(tmp_path, run_scheduler=True)
    template.install(settings)
    handoff = RecordingHandoff()
    app = create_app(settings, handoff=handoff)
    with LiveServer(app) as server:
        from fastapi.testclient import TestClient

        yield World(app=app, client=TestClient(app), seed=template.seed, handoff=handoff), server


def _login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post(f"{API}/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_officer_to_emergency_over_http(scheduled_world: tuple[World, LiveServer]) -> None:
    world, server = scheduled_world
    with httpx.Client(base_url=server.url, timeout=60) as client:
        health = client.get("/health").json()
        assert (health["status"], health["database"], health["scheduler"]) == ("ok", "ok", "leader"), health
        officer = _login(client, "officer-a")
        approver = _login(client, "approver-a")

        created = client.post(f"{API}/bulletins", headers=officer,
                              json={"title": "Lịch cắt điện", "text": "Thứ Năm cắt điện từ 7 giờ đến 11 giờ.",
                                    "repeat": 2})
        assert created.status_code == 201, created.text
        bulletin_id = created.json()["id"]
        assert client.post(f"{API}/bulletins/{bulletin_id}/submit", headers=officer).json()["status"] == "submitted"
        assert client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=approver).json()["status"] == "approved"

        preview = client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=officer)
        assert preview.status_code == 200 and preview.headers["content-type"] == "audio/mpeg"
        assert decode_audio(preview.content).duration_s > 1.0

        emergency = client.post(f"{API}/emergencies", headers=approver,
                                json={"title": "Khẩn: lũ", "text": "Nước lũ đang lên, bà con di chuyển lên cao.",
                                      "repeat": 1})
        assert emergency.status_code == 201, emergency.text
        body = emergency.json()
        assert body["bulletin"]["priority"] == "emergency" and body["bulletin"]["status"] == "aired"
        handed = [p for p in world.handoff.programmes if p.airing_id == body["airing"]["airing_id"]]
        assert [(p.cluster_id, str(p.priority)) for p in handed] == [(world.communes["A"].cluster_id, "emergency")]

        stopped = client.post(f"{API}/bulletins/{body['bulletin']['id']}/cancel", headers=approver,
                              json={"reason": "Nước đã rút"})
        assert stopped.json()["status"] == "cancelled"
        assert world.handoff.stops == [(body["airing"]["airing_id"], (world.communes["A"].cluster_id,))]

        log = client.get(f"{API}/broadcast-log", headers=officer,
                         params={"bulletin_id": body["bulletin"]["id"]}).json()
        assert [(row["kind"], row["airing_status"], row["delivery_state"]) for row in log] == [
            ("emergency", "cancelled", "cancelled")]


def _raw_request(url: str, head: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head.encode("latin-1"))
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, object]]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _content_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _upload_head(world: World, extra: str) -> str:
    return (f"POST {API}/bulletins/recording HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {world.token('officer')}\r\n"
            f"Content-Type: multipart/form-data; boundary=xyz\r\n{extra}\r\n")


def test_a_200_mb_upload_is_refused_from_its_headers(live_world: tuple[World, LiveServer]) -> None:
    world, server = live_world
    before = snapshot(world)
    # Announce 200 MB and send none of it: the answer must come without the body being read.
    sock = _raw_request(server.url, _upload_head(world, f"Content-Length: {200 * 1024 * 1024}\r\n"))
    with sock:
        status, body = _read_response(sock)
    assert status == 413
    assert body["error"]["code"] == "request_too_large"  # type: ignore[index]
    assert looks_vietnamese(body["error"]["message"])  # type: ignore[index]
    assert snapshot(world) == before


def test_a_streamed_upload_is_cut_off_at_the_cap(live_world: tuple[World, LiveServer]) -> None:
    world, server = live_world
    cap = world.settings.upload_max_bytes
    before = snapshot(world)
    sock = _raw_request(server.url, _upload_head(world, "Transfer-Encoding: chunked\r\n"))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    chunk = b"\0" * 65536
    part = (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n")
    sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    sent = len(part)
    with sock:
        # Keep streaming (up to 200 MB) until the server answers; it must answer soon after the cap.
        while sent < 200 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, body = _read_response(sock)
    assert status == 413 and body["error"]["code"] == "request_too_large"  # type: ignore[index]
    # What we managed to send includes what the kernel buffered on both sides (a few MB on loopback);
    # far less than the 200 MB offered shows the server stopped reading near the cap.
    assert sent < cap + 24 * 1024 * 1024, f"server read {sent} bytes before refusing (cap {cap})"
    assert snapshot(world) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    return start_serve_process(make_settings(tmp_path), port)


def test_an_acknowledged_bulletin_survives_sigkill(template: Template, tmp_path: Path) -> None:
    template.install(make_settings(tmp_path))
    port = _free_port()
    process = _serve(tmp_path, port)
    token = template.seed.tokens[("officer", "A")]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "kill-test"}
    body = {"title": "Không được mất", "text": "Bản tin này đã được xác nhận nên phải còn sau khi tắt đột ngột."}
    try:
        created = httpx.post(f"http://127.0.0.1:{port}{API}/bulletins", json=body, headers=headers, timeout=30)
        process.send_signal(signal.SIGKILL)  # the moment after the acknowledgement
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert created.status_code == 201
    process = _serve(tmp_path, port)
    try:
        fetched = httpx.get(f"http://127.0.0.1:{port}{API}/bulletins/{created.json()['id']}", headers=headers)
        again = httpx.post(f"http://127.0.0.1:{port}{API}/bulletins", json=body, headers=headers, timeout=30)
        history = httpx.get(f"http://127.0.0.1:{port}{API}/bulletins/{created.json()['id']}/history", headers=headers)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert fetched.status_code == 200 and fetched.json()["text"] == body["text"]
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    assert [event["action"] for event in history.json()] == ["create"]
