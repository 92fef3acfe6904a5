"""Provisioning a speaker cluster's agent: its id on the wire and its configuration file.

A cluster is known to its agent (and in every order, report and heartbeat) by the decimal
string of its database id: stable, unique, and free of the commune's renamings. The admin
prints an agent's whole configuration with ``broadcaster speaker config CLUSTER``: the server's
public key, the cluster id, the server URL, the transport and a fresh credential. The server
keeps only the credential's public halves (``delivery.agent_auth``), so printing the file again
issues a new credential and the old box's one stops working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broadcaster.config import Settings
from broadcaster.delivery.agent_auth import agent_public_key, broker_password, generate_agent_secret
from broadcaster.delivery.keys import key_id_of, public_key_base64
from broadcaster.delivery.mosquitto import password_hash
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


def issue_agent_credentials(cluster: Cluster) -> str:
    """A fresh secret for the cluster's agent; only its public key and broker password hash are stored."""
    secret = generate_agent_secret()
    cluster.agent_public_key = agent_public_key(secret)
    cluster.broker_password_hash = password_hash(broker_password(secret))
    return secret


def broker_username(cluster_id: int) -> str:
    """The cluster's user name at the MQTT broker."""
    return f"cluster-{cluster_id}"


def agent_listen_port(cluster: Cluster) -> int:
    """The port an ``http``-push agent listens on: the one in the cluster's agent URL, else the default."""
    try:
        port = urlsplit(cluster.agent_url).port if cluster.agent_url else None
    except ValueError:
        port = None
    return port or DEFAULT_AGENT_PORT


def agent_config(cluster: Cluster, settings: Settings, public_key: Ed25519PublicKey, secret: str, *,
                 secret_file: Path | None = None, state_dir: Path | None = None, player: str = "aplay",
                 **overrides: Any) -> dict[str, Any]:
    """The agent's configuration (``broadcaster.agent.config.AgentConfig`` fields) for ``cluster``.

    ``secret`` is the credential just issued; with ``secret_file`` the file names where the box keeps
    it instead (the caller writes it there).
    """
    config: dict[str, Any] = {
        "cluster_id": wire_cluster_id(cluster.id),
        "server_url": settings.public_url.rstrip("/"),
        "server_public_keys": [public_key_base64(public_key)],
        "transport": cluster.transport,
        "state_dir": str(state_dir or Path("/var/lib/broadcaster-agent")),
        "player": player,
        "heartbeat_interval_s": settings.agent_heartbeat_interval_s,
    }
    if cluster.transport == "http":
        # Only push needs a listening port, and only then on the address the server reaches.
        host = urlsplit(cluster.agent_url).hostname if cluster.agent_url else None
        config |= {"host": "127.0.0.1" if host in ("127.0.0.1", "localhost", "::1") else "0.0.0.0",
                   "port": agent_listen_port(cluster)}
    if cluster.transport == "mqtt":
        config["mqtt"] = mqtt_agent_settings(cluster, settings)
    if secret_file is not None:
        config["secret_file"] = str(secret_file)
    else:
        config["secret"] = secret
    config.update(overrides)
    return config


def mqtt_agent_settings(cluster: Cluster, settings: Settings) -> dict[str, Any]:
    """The ``mqtt`` block of an agent's configuration (its password is derived from its secret)."""
    block: dict[str, Any] = {"url": settings.mqtt_agent_url or settings.mqtt_url,
                             "username": broker_username(cluster.id), "topic_prefix": settings.mqtt_topic_prefix,
                             "keepalive_s": settings.mqtt_keepalive_s}
    if settings.mqtt_ca_file is not None:
        block["ca_file"] = str(settings.mqtt_ca_file)
    return block


def agent_config_yaml(cluster: Cluster, settings: Settings, public_key: Ed25519PublicKey, secret: str,
                      **options: Any) -> str:
    """``agent_config`` as a commented YAML file."""
    config = agent_config(cluster, settings, public_key, secret, **options)
    header = (
        f"# Cấu hình máy điều khiển cụm loa «{cluster.name}» (số {cluster.id}), cách nhận lệnh: {cluster.transport}.\n"
        f"# Khóa công khai của máy chủ: {key_id_of(public_key)}. Tệp này chứa khóa bí mật mới của cụm loa\n"
        "# (khóa cũ hết hiệu lực): chép lên máy điều khiển, đặt quyền 600; chạy: broadcaster agent --config agent.yaml\n"
    )
    return header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
