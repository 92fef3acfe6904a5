"""A cluster's life after it is registered: its agent's configuration, secret rotation, volume, retirement.

The agent's configuration holds the cluster's secret, so it is issued only together with a fresh
secret (``issue_agent_config``): the old secret stops working at that very moment (reports and
heartbeats signed with it are refused), and the new one exists in clear only in the answer; the
database keeps only its public halves (``delivery.agent_auth``).
A retired cluster gets no more programmes, its secret is revoked, and its log history stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from broadcaster.config import Settings
from broadcaster.db import utc_now
from broadcaster.delivery.keys import load_or_create_signing_key
from broadcaster.errors import Conflict, InvalidInput
from broadcaster.models import Cluster, Role, User
from broadcaster.services import registry, scoping
from broadcaster.services.audit import record
from broadcaster.services.provisioning import agent_config_yaml, issue_agent_credentials

MAX_VOLUME = 100


class ClusterRetired(Conflict):
    """The cluster is retired: it takes no configuration, volume or test any more."""

    code = "cluster_retired"


class VolumeInvalid(InvalidInput):
    """A volume is a whole number from 0 to 100."""

    code = "volume_invalid"


@dataclass(frozen=True)
class IssuedConfig:
    """An agent configuration just issued with a fresh secret: shown once."""

    cluster_id: int
    cluster_name: str
    filename: str
    text: str


def _managed(session: Session, actor: User, cluster_id: int) -> Cluster:
    cluster = registry.get_cluster(session, actor, cluster_id)
    scoping.require_role(actor, Role.ADMIN)
    if cluster.retired_at is not None:
        raise ClusterRetired(f"Cụm loa «{cluster.name}» đã ngừng hoạt động.")
    return cluster


def issue_agent_config(session: Session, actor: User, cluster_id: int, settings: Settings) -> IssuedConfig:
    """Rotate the cluster's secret (the old one is revoked at once) and return its agent file; committed."""
    cluster = _managed(session, actor, cluster_id)
    secret = issue_agent_credentials(cluster)
    record(session, actor=actor, action="rotate_secret", object_type="cluster", object_id=cluster.id,
           commune_id=cluster.commune_id, details={"name": cluster.name})
    session.commit()
    public_key = load_or_create_signing_key(settings.data_dir).public_key()
    text = agent_config_yaml(cluster, settings, public_key, secret)
    return IssuedConfig(cluster.id, cluster.name, f"cum-loa-{cluster.id}.yaml", text)


def set_volume(session: Session, actor: User, cluster_id: int, volume: int) -> Cluster:
    """The volume the cluster's next programmes play at (0–100); audited, committed."""
    cluster = _managed(session, actor, cluster_id)
    if not 0 <= volume <= MAX_VOLUME:
        raise VolumeInvalid(f"Âm lượng phải từ 0 đến {MAX_VOLUME}.")
    previous = cluster.volume
    cluster.volume = volume
    record(session, actor=actor, action="volume", object_type="cluster", object_id=cluster.id,
           commune_id=cluster.commune_id, details={"volume": volume, "previous": previous})
    session.commit()
    return cluster


def play_test_tone(session: Session, actor: User, cluster_id: int, programming: Callable[[], Any]) -> Any:
    """A short test tone at this cluster only, in a few seconds (admins); logged and audited."""
    cluster = _managed(session, actor, cluster_id)
    commune_id = cluster.commune_id
    session.commit()  # nothing to write here: end the read before programming writes in its own transactions
    return programming().air_test_tone(cluster_id, commune_id, actor_id=actor.id)


def retire(session: Session, actor: User, cluster_id: int) -> Cluster:
    """Take a cluster out of service: no more programmes, its secret revoked; audited, committed."""
    cluster = _managed(session, actor, cluster_id)
    cluster.retired_at = utc_now()
    cluster.agent_public_key = cluster.broker_password_hash = ""  # its agent can no longer report or connect
    record(session, actor=actor, action="retire", object_type="cluster", object_id=cluster.id,
           commune_id=cluster.commune_id, details={"name": cluster.name})
    session.commit()
    return cluster
