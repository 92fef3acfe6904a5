"""``broadcaster voices``: every engine's voices, usable or not and why, for an operator checking a new voice."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broadcaster.tts.base import VoiceListing


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``voices`` subcommand."""
    parser = subparsers.add_parser(
        "voices",
        help="liệt kê các giọng đọc và kiểm tra giọng Piper",
        description="Liệt kê mọi bộ đọc và giọng đọc: dùng được hay không và vì sao, ngôn ngữ, tần số"
        " lấy mẫu, kích thước, giấy phép hoặc bộ dữ liệu. Giọng Piper được nạp thử để kiểm tra.",
    )
    parser.add_argument("--config", type=Path, help="tệp cấu hình YAML")
    parser.add_argument("--voices-dir", type=Path, help="thư mục giọng Piper (mặc định: data/voices)")
    parser.add_argument("--json", action="store_true", help="in dạng JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the listing; exit 1 when an engine of the configured chain has no usable voice."""
    from broadcaster.config import load_settings
    from broadcaster.tts.catalogue import list_voices

    overrides = {"voices_dir": args.voices_dir} if args.voices_dir else {}
    settings = load_settings(args.config, **overrides)
    listings = list_voices(settings)
    if args.json:
        print(json.dumps([_as_json(listing) for listing in listings], ensure_ascii=False, indent=2))
    else:
        print(f"Chuỗi bộ đọc: {' → '.join(settings.engines)}; giọng Piper trong {settings.effective_voices_dir.resolve()}")
        for listing in listings:
            print(_line(listing))
    usable_engines = {listing.engine for listing in listings if listing.usable}
    return 0 if all(name in usable_engines for name in settings.engines) else 1


def _line(listing: VoiceListing) -> str:
    if not listing.usable:
        return f"  ✗ {listing.choice}: KHÔNG dùng được — {listing.problem}"
    facts = [listing.language or "?"]
    if listing.sample_rate:
        facts.append(f"{listing.sample_rate} Hz")
    if listing.size_bytes is not None:
        size = listing.size_bytes
        facts.append(f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB")
    for label, value in (("giấy phép", listing.licence), ("dữ liệu", listing.dataset), (None, listing.note)):
        if value:
            facts.append(f"{label}: {value}" if label else value)
    return f"  ✓ {listing.choice}: " + ", ".join(facts)


def _as_json(listing: VoiceListing) -> dict[str, object]:
    return {
        "choice": listing.choice, "engine": listing.engine, "voice": listing.name, "usable": listing.usable,
        "problem": listing.problem, "language": listing.language, "sample_rate": listing.sample_rate,
        "size_bytes": listing.size_bytes, "licence": listing.licence, "dataset": listing.dataset,
        "path": str(listing.path) if listing.path else None, "note": listing.note,
    }
