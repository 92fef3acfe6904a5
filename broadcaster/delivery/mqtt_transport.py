"""The ``mqtt`` transport: orders published to each cluster's topic at a broker (Mosquitto), QoS 1.

The server keeps one connection to the broker (aiomqtt over paho-mqtt), reconnecting with backoff
and jitter. ``send`` publishes the envelope, byte for byte, at QoS 1 and returns ``accepted`` once
the broker acknowledged it (PUBACK): the broker now holds it for the agent, whose persistent
session (a fixed client id, clean_session off) queues it while the box is offline. The agent's
own verdict comes back as a report over HTTP (received, or refused with its code). While the
broker is unreachable, ``send`` raises ``TransportUnavailable`` and the lane retries.

Presence: the server subscribes to every cluster's retained status topic; an agent that connects
publishes "online", and the broker publishes its last will "offline" when the box drops. Each
change goes to the ``LinkListener``: an agent back online wakes its lane, and the delivery service
re-sends what the broker took but the agent never confirmed (a broker killed before it saved its
queue loses it; the outbox does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import TYPE_CHECKING, Any

import aiomqtt

from broadcaster.agent.retry import Backoff
from broadcaster.delivery.mqtt_topics import (
    all_status_topics,
    broker_address,
    cluster_of_status_topic,
    is_online,
    orders_topic,
)
from broadcaster.delivery.transport import (
    ClusterAddress,
    LinkListener,
    SendOutcome,
    SendResult,
    Transport,
    TransportMisconfigured,
    TransportUnavailable,
    register_transport,
)

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)
CONNECT_WAIT_S = 2.0  # a send waits this long for a connection being re-established


def tls_context(ca_file: Any, cert_file: Any, key_file: Any) -> ssl.SSLContext:
    """A TLS client context that checks the broker against ``ca_file`` (and presents a client cert if given)."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if cert_file:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context


@register_transport("mqtt")
class MqttTransport(Transport):
    """Publishes envelopes to ``<prefix>/clusters/<id>/orders``; follows the clusters' presence."""

    name = "mqtt"

    def __init__(self, *, settings: Settings | None = None, links: LinkListener | None = None,
                 **_options: Any) -> None:
        if settings is None:
            raise TransportMisconfigured("Chưa cấu hình máy chủ MQTT.", detail="mqtt transport needs settings")
        self._settings = settings
        self._links = links
        self._prefix = settings.mqtt_topic_prefix
        self._timeout_s = settings.delivery_timeout_s
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect (in the background, for as long as the transport lives) and follow presence."""
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="mqtt-server")

    async def send(self, target: ClusterAddress, envelope: bytes) -> SendResult:
        """Publish at QoS 1; ``accepted`` once the broker holds it for the agent."""
        if self._runner is None:
            await self.open()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), CONNECT_WAIT_S)
        client = self._client
        if client is None or not self._connected.is_set():
            raise TransportUnavailable("Không kết nối được máy chủ MQTT.", detail="broker not connected")
        try:
            await client.publish(orders_topic(self._prefix, target.cluster_id), envelope, qos=1,
                                 timeout=self._timeout_s)
        except (aiomqtt.MqttError, TimeoutError) as error:
            raise TransportUnavailable(f"Máy chủ MQTT không nhận lệnh cho cụm loa {target.cluster_id}.",
                                       detail=repr(error)) from None
        return SendResult(SendOutcome.ACCEPTED)

    async def aclose(self) -> None:
        """Disconnect."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None

    async def _run(self) -> None:
        settings = self._settings
        host, port, tls = broker_address(settings.mqtt_url)
        password = (settings.mqtt_password_file.read_text(encoding="utf-8").strip()
                    if settings.mqtt_password_file else None)
        context = tls_context(settings.mqtt_ca_file, settings.mqtt_cert_file, settings.mqtt_key_file) if tls else None
        delays = None
        while True:
            try:
                async with aiomqtt.Client(
                    host, port, username=settings.mqtt_username, password=password, identifier="broadcaster-server",
                    keepalive=settings.mqtt_keepalive_s, tls_context=context, max_inflight_messages=1000,
                ) as client:
                    # On every (re)connect: the server's session is clean, so a restarted broker
                    # knows no subscription of ours (test_presence_is_followed_again_after_...).
                    await client.subscribe(all_status_topics(self._prefix), qos=1)
                    self._client = client
                    self._connected.set()
                    delays = None
                    log.info("connected to the MQTT broker %s:%d", host, port)
                    async for message in client.messages:
                        self._presence(str(message.topic), bytes(message.payload or b""))
            except aiomqtt.MqttError as error:
                if delays is None:
                    log.warning("MQTT broker %s:%d unreachable (%s); reconnecting with backoff", host, port, error)
                delays = delays or Backoff(0.5, 10.0).delays()
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(next(delays) if delays else 0.5)

    def _presence(self, topic: str, payload: bytes) -> None:
        cluster = cluster_of_status_topic(self._prefix, topic)
        if cluster is not None and self._links is not None:
            self._links.link_changed(cluster, is_online(payload))
