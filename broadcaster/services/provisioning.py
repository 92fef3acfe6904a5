"""Provisioning a speaker cluster's agent: its id on the wire and its configuration file.

A cluster is known to its agent (and in every order, report and heartbeat) by the decimal
string of its database id: stable, unique, and free of the commune's renamings. The admin
prints an agent's whole configuration with ``broadcaster speaker config CLUSTER``: the server's
public key, the cluster id, the server URL and the cluster's report secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broadcaster.config import Settings
from broadcaster.delivery.keys import key_id_of, public_key_base64
from broadcaster.models import Cluster

DEFAULT_AGENT_PORT = 8700


def wire_cluster_id(cluster_id: int) -> str:
    """The cluster's id in orders, reports and heartbeats."""
    return str(cluster_id)


def cluster_id_from_wire(text: str) -> int | None:
    """The database id a wire cluster id names, or None if it names none."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def audio_url(settings: Settings, sha256: str, fmt: str) -> str:
    """Where agents download the audio whose content hash is ``sha256``."""
    base = settings.audio_base_url or settings.public_url.rstrip("/") + "/audio"
    return f"{base.rstrip('/')}/{sha256}.{fmt}"


def agent_port(cluster: Cluster) -> int:
    """The port the agent should listen on: the one in the cluster's agent URL, else the default."""
    try:
        port = urlsplit(cluster.agent_url).port if cluster.agent_url else None
    except ValueError:
        port = None
    return port or DEFAULT_AGENT_PORT


def agent_config(cluster: Cluster, settings: Settings, public_key: Ed25519PublicKey, *,
                 secret_file: Path | None = None, state_dir: Path | None = None, player: str = "aplay",
                 **overrides: Any) -> dict[str, Any]:
    """The agent's configuration (``broadcaster.agent.config.AgentConfig`` fields) for ``cluster``."""
    config: dict[str, Any] = {
        "cluster_id": wire_cluster_id(cluster.id),
        "server_url": settings.public_url.rstrip("/"),
        "server_public_keys": [public_key_base64(public_key)],
        "host": "0.0.0.0",
        "port": agent_port(cluster),
        "state_dir": str(state_dir or Path("/var/lib/broadcaster-agent")),
        "player": player,
        "heartbeat_interval_s": settings.agent_heartbeat_interval_s,
    }
    if secret_file is not None:
        config["secret_file"] = str(secret_file)
    else:
        config["secret"] = cluster.report_secret
    config.update(overrides)
    return config


def agent_config_yaml(cluster: Cluster, settings: Settings, public_key: Ed25519PublicKey, **options: Any) -> str:
    """``agent_config`` as a commented YAML file."""
    config = agent_config(cluster, settings, public_key, **options)
    header = (
        f"# Cấu hình máy điều khiển cụm loa «{cluster.name}» (số {cluster.id}).\n"
        f"# Khóa công khai của máy chủ: {key_id_of(public_key)}. Tệp này chứa khóa bí mật của cụm loa:\n"
        "# chép lên máy điều khiển rồi đặt quyền 600; chạy: broadcaster agent --config agent.yaml\n"
    )
    return header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
