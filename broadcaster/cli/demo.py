"""``broadcaster demo``: the embedded default, end to end, for a newcomer.

Today it reads a sample bulletin through the whole speech pipeline (normalization, the offline
engine, levelling, the cache) and writes the programme a speaker would air.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SAMPLE_BULLETIN = (
    "UBND xã An Bình thông báo: từ 7h30 đến 11h ngày 15/12/2026, Điện lực huyện cắt điện "
    "để bảo dưỡng đường dây 22kV, khu vực thôn 3 và thôn 5. "
    "Trạm Y tế xã tổ chức tiêm chủng mở rộng cho trẻ dưới 5 tuổi vào thứ 4, ngày 17/12. "
    "Mọi thắc mắc xin liên hệ số 0912 345 678."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser("demo", help="chạy thử toàn bộ đường đi của một bản tin")
    parser.add_argument("-o", "--output", type=Path, default=None, help="tệp ra (mặc định: data/demo/ban-tin-mau.mp3)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Speak the sample bulletin as a one-bulletin programme and say where it is."""
    import shutil

    from broadcaster.config import load_settings
    from broadcaster.speech import ProgrammePiece, SpeechService

    settings = load_settings()
    speech = SpeechService(settings)
    print("Bản tin mẫu:\n  " + SAMPLE_BULLETIN)
    print("Cách phát thanh viên đọc:\n  " + speech.spoken_form(SAMPLE_BULLETIN))
    programme = speech.render_programme([ProgrammePiece(text=SAMPLE_BULLETIN, repeat=2)], chime=True)
    output = args.output or settings.data_dir / "demo" / "ban-tin-mau.mp3"
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(programme.path, output)
    print(
        f"Chương trình phát: {output} — {programme.duration_s:.1f} s, {programme.integrated_lufs:.1f} LUFS, "
        f"đỉnh {programme.true_peak_dbtp:.1f} dBTP, bộ đọc {programme.engine}, "
        f"{'có sẵn trong bộ nhớ đệm' if programme.cache_hit else 'mới tạo'}."
    )
    return 0
