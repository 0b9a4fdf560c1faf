"""A lean HTTP/1.1 client for the throughput benchmark.

The server and the 50 clients share two cores. httpx spends several
milliseconds of CPU per request, enough to make the bare endpoint's figure a
measure of the client rather than of the server; this client writes a
pre-formatted request on a keep-alive connection and reads the answer by its
Content-Length, which costs tens of microseconds. Only what our two servers
send is understood (Content-Length or chunked bodies, keep-alive).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class Connection:
    """One keep-alive connection, used by one client task at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self, method: str, target: str, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, bytes]:
        reader, writer = await self._open()
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        writer.writelines([head.encode("ascii"), body])
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            answer = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            pieces = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                pieces.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            answer = b"".join(piece[:-2] for piece in pieces)
        else:
            answer = await reader.read()
            await self.close()
        if headers.get("connection") == "close":
            await self.close()
        return status, answer

    async def json(self, method: str, target: str, document: Any) -> tuple[int, Any]:
        status, answer = await self.request(
            method, target, json.dumps(document).encode(), "application/json"
        )
        return status, json.loads(answer) if answer else None
