"""``broadcaster demo``: the embedded default, end to end, for a newcomer.

It seeds a demo commune (three villages, one speaker cluster each, an officer, an approver and an
admin with fresh passwords), starts the real server and three agents as local processes (the
agents on the silent null sink, paced in real time; the first on the sound card if one exists),
then walks one bulletin through the whole loop: the officer writes it, the approver approves it,
it airs at once as an emergency, and the agents' reports are printed as they arrive. It keeps
running (log in at the printed URL) until Ctrl-C; ``--exit-after-airing`` stops once it aired.
State lives in ``<data_dir>/demo`` (or a temporary directory with ``--temp``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

SAMPLE_BULLETIN = (
    "UBND xã An Bình thông báo: từ 7h30 đến 11h ngày 15/12/2026, Điện lực huyện cắt điện "
    "để bảo dưỡng đường dây 22kV, khu vực thôn 3 và thôn 5. "
    "Trạm Y tế xã tổ chức tiêm chủng mở rộng cho trẻ dưới 5 tuổi vào thứ 4, ngày 17/12. "
    "Mọi thắc mắc xin liên hệ số 0912 345 678."
)
STATE_WORDS = {
    "pending": "đang gửi lệnh phát", "sent": "đã gửi lệnh phát", "received": "đã nhận lệnh phát",
    "downloaded": "đã tải âm thanh", "played": "đã phát xong", "failed": "không phát được",
    "missed": "lỡ giờ phát", "cancelled": "đã hủy",
}
FINAL = ("played", "failed", "missed", "cancelled")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="chạy thử trọn vòng: máy chủ, ba cụm loa, một bản tin được duyệt và phát",
        description="Chạy máy chủ và ba cụm loa thử trên máy này, rồi soạn, duyệt và phát một bản tin mẫu.")
    parser.add_argument("--port", type=int, default=8000, help="cổng của máy chủ (mặc định 8000, bận thì chọn cổng khác)")
    parser.add_argument("--dir", type=Path, help="thư mục trạng thái (mặc định: <data_dir>/demo)")
    parser.add_argument("--temp", action="store_true", help="dùng thư mục tạm, xóa khi kết thúc")
    parser.add_argument("--text", default=SAMPLE_BULLETIN, help="nội dung bản tin (mặc định: bản tin mẫu)")
    parser.add_argument("--exit-after-airing", action="store_true",
                        help="dừng khi cả ba cụm loa đã phát xong (mã thoát 0), thay vì chạy tới khi Ctrl-C")
    parser.add_argument("--silent", action="store_true", help="không dùng loa của máy này dù có card âm thanh")
    parser.add_argument("-o", "--output", type=Path,
                        help="lưu chương trình đã phát (mặc định: <thư mục>/ban-tin-mau.mp3; với --temp: không lưu)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Seed, start the server and agents, air the bulletin, follow the reports; stop everything at the end."""
    from broadcaster.cli.demo_stack import (
        DemoStack,
        demo_settings,
        free_port,
        seed_demo,
        sound_device_present,
    )
    from broadcaster.config import load_settings
    from broadcaster.db import Database
    from broadcaster.text import validate_bulletin_text

    validate_bulletin_text(args.text)  # an unusable text is said at once, before anything starts
    base = load_settings()
    directory = Path(tempfile.mkdtemp(prefix="broadcaster-demo-")) if args.temp else (args.dir or base.data_dir / "demo")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port(args.port)
    settings = demo_settings(base, directory.resolve(), port)
    db = Database(settings.effective_database_url)
    stack = DemoStack(directory.resolve(), settings)
    try:
        print(f"Thư mục thử nghiệm: {directory}" + (" (tạm thời, xóa khi kết thúc)" if args.temp else ""))
        db.upgrade()
        seed = seed_demo(db, settings)
        sound = not args.silent and sound_device_present()
        print("Khởi động máy chủ và ba cụm loa" + (" (cụm đầu phát ra loa của máy này)…" if sound else " (loa im lặng)…"))
        url = stack.start_server(port)
        stack.start_agents(db, seed, sound=sound)
        stack.wait_agents(seed)
        _introduce(url, seed)
        bulletin = _air(url, seed, args.text)
        aired = _follow(url, seed, bulletin, passwords=seed.passwords)
        if args.output or not args.temp:  # a copy inside the temporary folder would be deleted at the end
            _save_programme(url, db, bulletin, args.output or directory / "ban-tin-mau.mp3")
        if args.exit_after_airing:
            return 0 if aired else 1
        print(f"\nMáy chủ vẫn chạy: mở {url} (tài liệu API: {url}/docs). Nhấn Ctrl-C để dừng.")
        while stack.alive():
            time.sleep(1)
        print("Một tiến trình đã dừng bất ngờ; xem nhật ký trong " + str(stack.logs))
        return 1
    except KeyboardInterrupt:
        print("\nĐang dừng…")
        return 0
    finally:
        stack.stop()
        db.dispose()
        if args.temp:
            shutil.rmtree(directory, ignore_errors=True)


def _introduce(url: str, seed: Any) -> None:
    print(f"\nMáy chủ: {url}   (tài liệu API: {url}/docs)")
    print("Tài khoản (mật khẩu mới mỗi lần chạy):")
    roles = {"canbo": "cán bộ văn hóa (soạn bản tin)", "lanhdao": "lãnh đạo xã (duyệt)", "quantri": "quản trị"}
    for username, password in seed.passwords.items():
        print(f"  {username:8} / {password}   {roles[username]}")
    print("Cụm loa (tự gọi về máy chủ, không mở cổng nào): "
          + ", ".join(f"{name} (số {cluster_id})" for cluster_id, name in seed.clusters))


def _login(url: str, username: str, password: str) -> dict[str, str]:
    import httpx

    answer = httpx.post(f"{url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _air(url: str, seed: Any, text: str) -> int:
    """The officer writes and submits the bulletin; the approver approves it, which airs it at once."""
    import httpx

    officer = _login(url, "canbo", seed.passwords["canbo"])
    approver = _login(url, "lanhdao", seed.passwords["lanhdao"])
    created = httpx.post(f"{url}/api/v1/bulletins", headers=officer, timeout=60, json={
        "title": "Thông báo cắt điện và tiêm chủng", "text": text, "priority": "emergency"})
    _check(created)
    bulletin = int(created.json()["id"])
    print(f"\n1. Cán bộ «canbo» soạn bản tin số {bulletin} và gửi duyệt.")
    _check(httpx.post(f"{url}/api/v1/bulletins/{bulletin}/submit", headers=officer, timeout=60))
    print("2. Lãnh đạo «lanhdao» duyệt; bản tin khẩn được đọc, chuẩn hóa âm lượng và gửi tới ba cụm loa…")
    _check(httpx.post(f"{url}/api/v1/bulletins/{bulletin}/approve", headers=approver, timeout=300))
    return bulletin


def _check(response: Any) -> None:
    from broadcaster.cli.demo_stack import DemoFailed

    if response.status_code >= 400:
        raise DemoFailed("Máy chủ từ chối một bước của bản tin thử.", detail=f"{response.status_code} {response.text}")


def _follow(url: str, seed: Any, bulletin: int, *, passwords: dict[str, str], timeout_s: float = 300.0) -> bool:
    """Print each cluster's progress from the broadcast log until all are final; whether all played."""
    import httpx

    headers = _login(url, "lanhdao", passwords["lanhdao"])
    names = dict(seed.clusters)
    shown: dict[tuple[int, str], bool] = {}
    announced = False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = httpx.get(f"{url}/api/v1/broadcast-log", params={"bulletin_id": bulletin}, headers=headers,
                         timeout=30).json()
        rows = [r for r in rows if r["cluster_id"] in names and r["delivery_state"]]
        if rows and not announced:
            print(f"3. Giờ phát: {_clock(rows[0]['play_at'])}. Báo cáo của các cụm loa:")
            announced = True
        for row in rows:
            state = row["delivery_state"]
            if row["played_at"] and state not in FINAL and not shown.get((row["cluster_id"], "playing")):
                shown[(row["cluster_id"], "playing")] = True
                print(f"   {names[row['cluster_id']]}: đang phát, bắt đầu {_clock(row['played_at'])}{_offset(row)}")
            if not shown.get((row["cluster_id"], state)):
                shown[(row["cluster_id"], state)] = True
                detail = _offset(row) if state == "played" else (f": {row['delivery_error']}" if row["delivery_error"] else "")
                print(f"   {names[row['cluster_id']]}: {STATE_WORDS.get(state, state)}{detail}")
        if len(rows) == len(names) and all(r["delivery_state"] in FINAL for r in rows):
            played = all(r["delivery_state"] == "played" for r in rows)
            print("4. " + ("Cả ba cụm loa đã phát đúng giờ; nhật ký phát đã ghi lại (API /api/v1/broadcast-log)."
                           if played else "Có cụm loa không phát được; xem lý do ở trên."))
            return played
        time.sleep(0.3)
    print("Hết thời gian chờ các cụm loa báo cáo.")
    return False


def _clock(value: str) -> str:
    return datetime.fromisoformat(value).strftime("%H:%M:%S.%f")[:-3]


def _offset(row: dict[str, Any]) -> str:
    if not row["played_at"] or not row["play_at"]:
        return ""
    offset_ms = (datetime.fromisoformat(row["played_at"]) - datetime.fromisoformat(row["play_at"])).total_seconds() * 1000
    return f" (lệch {offset_ms:+.1f} ms so với giờ phát)"


def _save_programme(url: str, db: Any, bulletin: int, output: Path) -> None:
    """Keep a copy of what aired, fetched like an agent does (by its content hash)."""
    import httpx
    from sqlalchemy import select

    from broadcaster.models import AiringItem, Delivery

    with db.session() as s:
        sha256 = s.scalar(select(Delivery.audio_sha256).join(AiringItem, AiringItem.airing_id == Delivery.airing_id)
                          .where(AiringItem.bulletin_id == bulletin).limit(1))
    if sha256 is None:
        return
    answer = httpx.get(f"{url}/audio/{sha256}.mp3", timeout=60)
    if answer.status_code == 200:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(answer.content)
        print(f"Chương trình đã phát: {output} ({len(answer.content) // 1024} kB)")
