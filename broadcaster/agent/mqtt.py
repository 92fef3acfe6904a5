"""The ``mqtt`` transport, agent side: subscribe to this cluster's orders topic at the broker.

The agent connects with a fixed client id and ``clean_session`` off, so the broker keeps its
subscription and queues QoS 1 orders while the box is offline; it subscribes again on every
connection all the same (a broker that lost its state forgets the session). Its last will is a
retained "offline" on its status topic, and it publishes a retained "online" once connected: the
server knows within ``1.5 × keepalive`` seconds that a box dropped. Every order goes through the
same ``Intake`` as over ``pull`` or ``http``: a broker, or anyone holding its admin password, can
deliver anything, and still nothing unsigned, forged, replayed or expired plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt

from broadcaster.agent.config import MqttAgentSettings
from broadcaster.agent.intake import Intake
from broadcaster.agent.pull import verdict
from broadcaster.agent.retry import Backoff
from broadcaster.delivery.agent_auth import broker_password
from broadcaster.delivery.mqtt_topics import OFFLINE, ONLINE, broker_address, orders_topic, status_topic
from broadcaster.delivery.mqtt_transport import tls_context

log = logging.getLogger(__name__)


class MqttReceiver:
    """Keeps the broker connection up and feeds every message on the orders topic to the intake."""

    def __init__(self, cluster_id: str, settings: MqttAgentSettings, secret: str, intake: Intake,
                 backoff: Backoff) -> None:
        self._cluster_id = cluster_id
        self._settings = settings
        self._password = settings.password.get_secret_value() if settings.password else broker_password(secret)
        self._intake = intake
        self._backoff = backoff

    async def run(self) -> None:
        """Stay subscribed forever, reconnecting with backoff and jitter."""
        settings = self._settings
        host, port, tls = broker_address(settings.url)
        context = tls_context(settings.ca_file, settings.cert_file, settings.key_file) if tls else None
        status = status_topic(settings.topic_prefix, self._cluster_id)
        will = aiomqtt.Will(status, OFFLINE, qos=1, retain=True)
        delays = None
        while True:
            try:
                async with aiomqtt.Client(
                    host, port, username=settings.username, password=self._password,
                    identifier=f"cluster-{self._cluster_id}", clean_session=False, will=will,
                    keepalive=settings.keepalive_s, tls_context=context,
                ) as client:
                    await client.subscribe(orders_topic(settings.topic_prefix, self._cluster_id), qos=1)
                    await client.publish(status, ONLINE, qos=1, retain=True)
                    if delays is not None:
                        log.info("broker connection is back")
                    delays = None
                    try:
                        async for message in client.messages:
                            answer = verdict(self._intake, bytes(message.payload or b""))
                            log.debug("order over mqtt: %s", answer.outcome)
                    except asyncio.CancelledError:
                        # A clean shutdown sends no last will: say "offline" ourselves.
                        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                            await client.publish(status, OFFLINE, qos=1, retain=True, timeout=2)
                        raise
            except aiomqtt.MqttError as error:
                if delays is None:
                    log.warning("broker %s:%d unreachable (%s); reconnecting with backoff", host, port, error)
                delays = delays or self._backoff.delays()
                await asyncio.sleep(next(delays))
