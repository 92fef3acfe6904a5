"""``broadcaster speaker``: provision speaker-cluster agents and see how they are.

    broadcaster speaker public-key            the key agents verify orders with
    broadcaster speaker config 3 -o agent.yaml   cluster 3's agent configuration, with a new credential
    broadcaster speaker list                  every cluster: online or not, playing, volume, clock offset
    broadcaster speaker add xa-an-binh "Cụm loa chợ" --zone "Thôn Đông"   a new cluster (prints its number)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from broadcaster.errors import InvalidInput, NotFound


class ClusterUnknown(NotFound):
    """No cluster has that number."""

    code = "cluster_not_found"


class SecretNeedsOutput(InvalidInput):
    """``--secret-file`` without ``-o``: the secret would have nowhere to go."""

    code = "secret_needs_output"
class ZoneUnknown(NotFound):
    """The commune has no zone of that name."""

    code = "zone_not_found"


def register(subparsers: Any) -> None:
    """Add the ``speaker`` subcommand and its actions."""
    parser = subparsers.add_parser("speaker", help="cụm loa: khóa công khai, cấu hình máy điều khiển, trạng thái",
                                   description="Chuẩn bị máy điều khiển cụm loa và xem trạng thái các cụm loa.")
    parser.add_argument("--config", type=Path, help="tệp cấu hình YAML của máy chủ")
    actions = parser.add_subparsers(dest="action", metavar="VIỆC", required=True)

    key = actions.add_parser("public-key", help="in khóa công khai mà cụm loa dùng để kiểm chữ ký lệnh phát")
    key.add_argument("--pem", action="store_true", help="in dạng PEM thay vì base64")
    key.set_defaults(handler=print_public_key)

    config = actions.add_parser("config", help="cấp khóa mới và in tệp cấu hình cho máy điều khiển của một cụm loa",
                                description="Cấp khóa bí mật mới cho cụm loa (khóa cũ hết hiệu lực) và in tệp cấu hình.")
    config.add_argument("cluster", type=int, help="số của cụm loa (xem: broadcaster speaker list)")
    config.add_argument("--secret-file", type=Path,
                        help="đường dẫn tệp khóa bí mật trên máy điều khiển (khóa được ghi ra tệp <output>.secret)")
    config.add_argument("--state-dir", type=Path, help="thư mục trạng thái trên máy điều khiển")
    config.add_argument("--player", default="aplay", help="bộ phát: aplay, ffmpeg hoặc null (mặc định aplay)")
    config.add_argument("-o", "--output", type=Path, help="ghi ra tệp (quyền 600) thay vì in ra màn hình")
    config.set_defaults(handler=print_config)

    add = actions.add_parser("add", help="thêm một cụm loa vào xã (in số của cụm loa, dùng cho «speaker config»)")
    add.add_argument("commune", help="mã xã")
    add.add_argument("name", help="tên cụm loa")
    add.add_argument("--zone", help="tên thôn/bản của cụm loa")
    add.add_argument("--agent-url", help="địa chỉ máy điều khiển khi máy chủ gửi tới (transport http)")
    add.add_argument("--transport", help="cách nhận lệnh phát: pull (mặc định, loa tự gọi về), mqtt hoặc http")
    add.set_defaults(handler=add_cluster)

    listing = actions.add_parser("list", help="liệt kê cụm loa: trực tuyến, đang phát, âm lượng, lệch đồng hồ")
    listing.add_argument("--commune", help="chỉ các cụm loa của xã có mã này")
    listing.set_defaults(handler=list_clusters)


def _settings_and_db(args: argparse.Namespace) -> Any:
    from broadcaster.config import load_settings
    from broadcaster.db import Database

    settings = load_settings(args.config)
    db = Database(settings.effective_database_url)
    db.upgrade()
    return settings, db


def print_public_key(args: argparse.Namespace) -> int:
    """Print the server's order-signing public key (created on first use)."""
    from broadcaster.config import load_settings
    from broadcaster.delivery.keys import (
        key_id_of,
        load_or_create_signing_key,
        public_key_base64,
        public_key_pem,
    )

    key = load_or_create_signing_key(load_settings(args.config).data_dir).public_key()
    print(public_key_pem(key).strip() if args.pem else public_key_base64(key))
    print(f"# mã khóa {key_id_of(key)}", file=sys.stderr)
    return 0


def print_config(args: argparse.Namespace) -> int:
    """Issue a new credential for one cluster and print (or write, mode 600) its agent configuration."""
    from broadcaster.delivery.keys import load_or_create_signing_key
    from broadcaster.models import Cluster
    from broadcaster.services.provisioning import agent_config_yaml, issue_agent_credentials

    if args.secret_file is not None and args.output is None:
        raise SecretNeedsOutput("Dùng --secret-file thì cần -o để ghi khóa bí mật ra tệp riêng.")
    settings, db = _settings_and_db(args)
    with db.session() as session:
        cluster = session.get(Cluster, args.cluster)
        if cluster is None:
            raise ClusterUnknown(f"Không có cụm loa số {args.cluster}.")
        secret = issue_agent_credentials(cluster)
        text = agent_config_yaml(cluster, settings, load_or_create_signing_key(settings.data_dir).public_key(), secret,
                                 secret_file=args.secret_file, state_dir=args.state_dir, player=args.player)
        session.commit()
    db.dispose()
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write_private(args.output, text)
        print(f"Đã ghi cấu hình cụm loa số {args.cluster} vào {args.output}.")
        if args.secret_file is not None:
            secret_copy = args.output.with_name(args.output.name + ".secret")
            _write_private(secret_copy, secret + "\n")
            print(f"Khóa bí mật ở {secret_copy}: chép thành {args.secret_file} trên máy điều khiển.")
    print(f"Đã cấp khóa mới cho cụm loa số {args.cluster}; khóa cũ (nếu có) hết hiệu lực.", file=sys.stderr)
    return 0


def _write_private(path: Path, text: str) -> None:
    # It holds the cluster's secret: created readable by its owner only.
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def list_clusters(args: argparse.Namespace) -> int:
    """Print every cluster with its presence and clock offset."""
    from sqlalchemy import select

    from broadcaster.clock import local
    from broadcaster.db import utc_now
    from broadcaster.models import Cluster, Commune
    from broadcaster.services.agent_reports import presence_of
    from broadcaster.web.formatting import offset

    _settings, db = _settings_and_db(args)
    with db.session() as session:
        query = select(Cluster, Commune).join(Commune).order_by(Commune.code, Cluster.id)
        if args.commune:
            query = query.where(Commune.code == args.commune)
        now = utc_now()
        for cluster, commune in session.execute(query).all():
            seen = presence_of(cluster, now)
            when = local(seen.last_heartbeat_at).strftime("%H:%M:%S %d/%m") if seen.last_heartbeat_at else "chưa bao giờ"
            state = ("đang phát" if seen.status == "playing" else "nghỉ") if seen.online else "mất kết nối"
            volume = f"âm lượng {seen.volume}" if seen.volume is not None else ""
            problems = "; ".join(p.get("message", "") for p in seen.problems)
            health = [f"suy giảm: {problems}"] if seen.online and seen.health == "degraded" else []
            print("\t".join([str(cluster.id), commune.code, cluster.name, state, f"nhịp tim {when}", volume,
                             "đồng hồ " + (offset(seen.clock_offset_ms) if seen.clock_offset_ms is not None else "chưa đo"), cluster.transport,
                             cluster.agent_url, *health]))
    db.dispose()
    return 0


def add_cluster(args: argparse.Namespace) -> int:
    """Add a speaker cluster to a commune and print its number."""
    from sqlalchemy import select

    from broadcaster.models import Zone
    from broadcaster.services import registry

    _settings, db = _settings_and_db(args)
    with db.session() as session:
        commune = registry.find_commune_by_code(session, args.commune)
        zone_id = None
        if args.zone:
            zone_id = session.scalar(select(Zone.id).where(Zone.commune_id == commune.id, Zone.name == args.zone.strip()))
            if zone_id is None:
                raise ZoneUnknown(f"Xã {commune.name} không có thôn/bản «{args.zone}» (tạo bằng «broadcaster zone create»).")
        cluster = registry.create_cluster(session, None, commune.id, registry.ClusterFields(
            name=args.name, zone_id=zone_id, agent_url=args.agent_url, transport=args.transport))
        print(f"Đã thêm cụm loa «{cluster.name}» số {cluster.id} vào {commune.name}. "
              f"Tiếp theo: broadcaster speaker config {cluster.id} -o cum-loa-{cluster.id}.yaml")
    db.dispose()
    return 0
