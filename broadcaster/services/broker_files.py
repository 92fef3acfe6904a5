"""The broker's users and rights from the registry: what ``broadcaster broker files`` writes for Mosquitto."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.config import Settings
from broadcaster.delivery.mosquitto import BrokerUser, acl_file, password_file, password_hash, write_private
from broadcaster.errors import InvalidInput
from broadcaster.models import Cluster
from broadcaster.services.provisioning import broker_username, wire_cluster_id


class BrokerPasswordMissing(InvalidInput):
    """The server's own broker password is not configured."""

    code = "mqtt_password_missing"


def broker_users(session: Session, settings: Settings) -> list[BrokerUser]:
    """The server's user, then every cluster on the ``mqtt`` transport that was provisioned."""
    if settings.mqtt_password_file is None or not settings.mqtt_password_file.is_file():
        raise BrokerPasswordMissing("Chưa có tệp mật khẩu MQTT của máy chủ (mqtt_password_file).")
    server = BrokerUser(settings.mqtt_username,
                        password_hash(settings.mqtt_password_file.read_text(encoding="utf-8").strip()))
    clusters = session.scalars(select(Cluster).where(Cluster.transport == "mqtt").order_by(Cluster.id))
    return [server, *(BrokerUser(broker_username(c.id), c.broker_password_hash, wire_cluster_id(c.id))
                      for c in clusters if c.broker_password_hash)]


def write_broker_files(session: Session, settings: Settings, passwd: Path, acl: Path) -> int:
    """Write Mosquitto's password and ACL files (mode 600); how many clusters they admit."""
    users = broker_users(session, settings)
    write_private(passwd, password_file(users))
    write_private(acl, acl_file(users, settings.mqtt_topic_prefix))
    return len(users) - 1
