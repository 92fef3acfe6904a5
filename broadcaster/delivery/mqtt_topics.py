"""MQTT topics and presence payloads, shared by the server, the agents and the broker's ACL.

Per cluster, under ``<prefix>/clusters/<cluster id>/``:

    orders   the server publishes signed envelopes, QoS 1; only that cluster may subscribe
    status   the agent publishes ``{"state": "online"}`` retained when it connects, and leaves
             ``{"state": "offline"}`` retained as its last will: the broker publishes it when the
             box drops; only that cluster may publish here, the server reads every cluster's

Reports and heartbeats stay on HTTP (docs/delivery.md says why).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from broadcaster.errors import InvalidInput

ONLINE = json.dumps({"state": "online"}).encode()
OFFLINE = json.dumps({"state": "offline"}).encode()


class BrokerUrlInvalid(InvalidInput):
    """An MQTT URL that is not mqtt://host:port or mqtts://host:port."""

    code = "mqtt_url_invalid"


def orders_topic(prefix: str, cluster_id: str) -> str:
    """Where the cluster's orders are published."""
    return f"{prefix}/clusters/{cluster_id}/orders"


def status_topic(prefix: str, cluster_id: str) -> str:
    """Where the cluster's agent says whether it is connected (retained, and its last will)."""
    return f"{prefix}/clusters/{cluster_id}/status"


def all_status_topics(prefix: str) -> str:
    """The filter the server subscribes to for every cluster's presence."""
    return f"{prefix}/clusters/+/status"


def cluster_of_status_topic(prefix: str, topic: str) -> str | None:
    """The cluster a status topic belongs to, None if it is not one."""
    head, tail = f"{prefix}/clusters/", "/status"
    if topic.startswith(head) and topic.endswith(tail):
        cluster = topic[len(head):-len(tail)]
        return cluster if cluster and "/" not in cluster else None
    return None


def is_online(payload: bytes) -> bool:
    """Whether a status payload says the agent is connected."""
    try:
        return bool(json.loads(payload).get("state") == "online")
    except (ValueError, AttributeError, RecursionError):
        return False


def broker_address(url: str) -> tuple[str, int, bool]:
    """Host, port and whether TLS is used, from ``mqtt://host:1883`` or ``mqtts://host:8883``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BrokerUrlInvalid(f"Địa chỉ máy chủ MQTT không hợp lệ: «{url}» (cần mqtt://máy:cổng hoặc mqtts://…).")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls
