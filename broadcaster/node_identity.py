"""The node's identity: a stable id kept in its data directory, so a restart knows its own past.

A process restarted on the same data directory is the same node: it may take back at once the
scheduler lease and the emergency claims its previous life held (that life is over: see below),
instead of waiting out their time-to-live as a different node must.

The id lives in ``<data_dir>/node-id`` (made on first start). A process holds an exclusive
``flock`` on ``<data_dir>/node-id.lock`` for as long as it runs; the kernel drops it when the
process dies, however it dies (SIGKILL included). So "the node's previous life is over" is a
fact, not a guess: a second process started on a data directory already in use cannot get the
lock, and runs under a one-off id of its own (it is then a different node and waits like one).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

NODE_ID_FILE = "node-id"
LOCK_FILE = "node-id.lock"
_NODE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class NodeIdentity:
    """Who this process is: its node id, and whether it owns that id (holds the data dir's lock)."""

    node_id: str
    stable: bool  # True: the id of the data dir, held exclusively; False: a one-off id of this process
    _lock: IO[bytes] | None = field(default=None, repr=False, compare=False)

    def holder_id(self) -> str:
        """This process as a lease holder: ``host:pid:node`` (the node id last, so restarts can match it)."""
        return f"{socket.gethostname()}:{os.getpid()}:{self.node_id}"

    def owns(self, holder: str) -> bool:
        """True if ``holder`` is this node (this life or a previous one, which is over)."""
        return self.stable and holder.endswith(f":{self.node_id}")

    def release(self) -> None:
        """Give the data directory's lock back (a clean stop; dying does the same)."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()


def transient_identity() -> NodeIdentity:
    """A one-off id for a process without a data directory of its own (tests, tools)."""
    return NodeIdentity(uuid.uuid4().hex, stable=False)


def claim_node_identity(data_dir: Path) -> NodeIdentity:
    """The data directory's node id, held by this process; a one-off id if another live process holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / LOCK_FILE, "ab")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        identity = transient_identity()
        log.warning("data directory %s is in use by another process: running as a separate node %s",
                    data_dir, identity.node_id)
        return identity
    return NodeIdentity(_read_or_create(data_dir / NODE_ID_FILE), stable=True, _lock=handle)


def _read_or_create(path: Path) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="ascii").strip()
        if _NODE_ID.match(text):
            return text
    node_id = uuid.uuid4().hex
    temp = path.with_name(f".{path.name}.{node_id}")
    temp.write_text(node_id + "\n", encoding="ascii")
    os.replace(temp, path)  # we hold the lock: nobody else writes it meanwhile
    return node_id
