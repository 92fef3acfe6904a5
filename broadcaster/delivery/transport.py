"""Transports: how a signed order reaches its cluster. One small interface, a registry, the errors.

A transport moves bytes; it neither signs nor decides. ``send`` hands one envelope (the signed
JSON, byte for byte) to one cluster and says what became of it:

    ACCEPTED   the agent, or the medium that will hold it for the agent (an MQTT broker), took it
    DUPLICATE  the agent already holds this very order: a retry whose first answer was lost
    REPLAYED   the agent refused it as not newer than what it holds (a copy signed under an older seq)
    EXPIRED    the agent says it arrived after its expires_at
    REFUSED    the agent refused it for good: bad signature, another cluster's order, malformed

``pull`` hands it to the agent's long-poll (agents dial out: the default), ``http`` pushes to the
agent (``POST {agent_url}/orders``, LAN only), ``mqtt`` publishes it to the cluster's topic at a
broker. The address is opaque text. Transports that hold connections of their own tell the
delivery service when a cluster's agent comes and goes (``LinkListener``), so its lane retries
at once instead of waiting out a backoff.

Errors::

    TransportError (ServiceFailure)
    └── TransportUnavailable     the cluster cannot be reached now (no route, timeout, 5xx): retry
        └── TransportMisconfigured   its address is missing or unusable: retry, an admin may fix it
    UnknownTransport (InvalidInput)  no transport registered under that name
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from broadcaster.errors import InvalidInput, ServiceFailure


class TransportError(ServiceFailure):
    """A transport could not hand over an order."""

    code = "transport_failed"


class TransportUnavailable(TransportError):
    """The cluster cannot be reached right now; the same order may go through later."""

    code = "transport_unavailable"


class TransportMisconfigured(TransportUnavailable):
    """The cluster's address is missing or unusable for this transport."""

    code = "transport_misconfigured"


class UnknownTransport(InvalidInput):
    """No transport is registered under this name."""

    code = "transport_unknown"


class SendOutcome(StrEnum):
    """What became of one envelope handed to a transport."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REPLAYED = "replayed"
    EXPIRED = "expired"
    REFUSED = "refused"


@dataclass(frozen=True)
class SendResult:
    """The outcome, with the agent's refusal code and Vietnamese message when it refused."""

    outcome: SendOutcome
    code: str | None = None
    message: str | None = None

    @property
    def delivered(self) -> bool:
        """Whether the cluster now holds the order."""
        return self.outcome in (SendOutcome.ACCEPTED, SendOutcome.DUPLICATE)


@dataclass(frozen=True)
class ClusterAddress:
    """Where one cluster is: its id on the wire and the transport's address for it (URL, topic...)."""

    cluster_id: str
    address: str


class LinkListener(Protocol):
    """Told when a cluster's agent connects or goes away (pull connections, broker presence)."""

    def link_changed(self, cluster_id: str, connected: bool) -> None:
        """``cluster_id`` (on the wire) is now connected or not; called from any thread, must not block."""
        ...


class Transport(ABC):
    """Sends envelopes to clusters. Implementations are asyncio-native and safe to share between tasks."""

    name: ClassVar[str]

    async def open(self) -> None:  # noqa: B027 - optional hook: most transports connect lazily
        """Connect and subscribe what must be up before the first send (called once, in the lanes' loop)."""

    @abstractmethod
    async def send(self, target: ClusterAddress, envelope: bytes) -> SendResult:
        """Hand ``envelope`` to ``target``; raises ``TransportUnavailable`` when worth retrying."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook: most transports hold nothing to close
        """Release connections (called once, in the event loop that used the transport)."""


TransportFactory = Callable[..., Transport]
_REGISTRY: dict[str, TransportFactory] = {}
_BUILTIN_MODULES = ("broadcaster.delivery.http_transport", "broadcaster.delivery.pull_transport",
                    "broadcaster.delivery.mqtt_transport")


def register_transport(name: str) -> Callable[[TransportFactory], TransportFactory]:
    """Class decorator: make a transport available by name.

    Factories take keyword arguments only: ``settings`` (a ``Settings`` or None), from which each
    transport reads its own fields (timeouts, connection limits, broker address), and ``links``
    (a ``LinkListener`` or None); they ignore options meant for other transports.
    """

    def decorate(factory: TransportFactory) -> TransportFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def transport_names() -> list[str]:
    """Names of all registered transports."""
    _load_builtin_transports()
    return sorted(_REGISTRY)


def create_transport(name: str, **kwargs: Any) -> Transport:
    """Instantiate a registered transport; ``UnknownTransport`` names the choices."""
    _load_builtin_transports()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        choices = ", ".join(sorted(_REGISTRY))
        raise UnknownTransport(
            f"Không có cách gửi lệnh (transport) tên «{name}». Các cách có: {choices}.",
            detail=f"unknown transport {name!r}",
        ) from None
    return factory(**kwargs)


def _load_builtin_transports() -> None:
    # Importing the modules registers them; done lazily so importing the base costs nothing.
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
