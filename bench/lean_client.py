"""A load generator's HTTP/1.1 client: one keep-alive connection, JSON in and out, almost no CPU.

On a 2-core machine the load generator shares the CPU with the servers and the database it
measures: httpx spends about 3 ms of CPU per request, which at 100 requests/s is a sixth of the
machine. This speaks just enough HTTP/1.1 to POST JSON to ``broadcaster serve`` (Content-Length
or chunked answers) for a small fraction of that. Benchmarks use it only for their timed loops;
everything else goes through httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class LeanResponse:
    """A status code and a body (JSON decoded on demand)."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.content = body

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.content)


class LeanConnection:
    """One keep-alive connection to ``host:port``; requests on it go one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, *, headers: dict[str, str], json_body: Any = None) -> LeanResponse:
        """POST ``json_body`` (or nothing) to ``path``; reconnects once if the server closed the idle connection."""
        body = b"" if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if json_body is not None:
            head.append("Content-Type: application/json")
        head += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            fresh = self._writer is None
            if fresh:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(request)
                return await self._read_response(self._reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _read_response(self, reader: asyncio.StreamReader) -> LeanResponse:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {name.strip().lower(): value.strip()
                  for name, _, value in (line.partition(":") for line in head[1:] if line)}
        if fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append((await reader.readexactly(size + 2))[:-2])
            await reader.readuntil(b"\r\n")  # no trailers from our server
            body = b"".join(parts)
        else:
            body = await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return LeanResponse(status, body)

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
