"""A loopback TCP proxy that can stop forwarding: a real stalled connection.

Between a browser and a live server it passes bytes both ways until told to
stall (at once, or after so many more bytes from the browser); then it stops
reading and writing on every connection, open or new. A request in flight
hangs exactly as on a dead mobile link: no error, no answer, no reset, the
socket still open. `resume()` lets everything flow again, bytes held
included.

It works on bytes, not HTTP, so nothing about a request is faked; it only
notes each request line it forwards (`requests`), for a test to see what
the browser asked for.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

_REQUEST_LINE = re.compile(rb"(GET|PUT|POST|HEAD) (/\S*) HTTP/1\.1\r\n")
_READ = 64 * 1024


class StallingProxy:
    """Forwards 127.0.0.1:`port` to `upstream` (host, port) in its own event-loop thread."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.requests: list[str] = []  # "PUT /api/v1/...?offset=0", in the order forwarded
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._budget: int | None = None  # browser bytes left before stalling
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # ------------------------------------------------------------ control (any thread)

    def stall(self) -> None:
        """Stop forwarding now, both ways, on every connection."""
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def stall_after(self, nbytes: int) -> None:
        """Forward `nbytes` more bytes from the browser, then stall."""

        def arm() -> None:
            self._budget = nbytes

        self._loop.call_soon_threadsafe(arm)

    def resume(self) -> None:
        """Forward again (whatever was held first)."""
        self._loop.call_soon_threadsafe(self._flowing.set)

    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ the event loop

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def close(self) -> None:
        """Stop listening, drop every connection, end the thread and its loop."""

        async def shut() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        writers = [client_w]
        try:
            await self._flowing.wait()  # a new connection is held too while stalled
            server_r, server_w = await asyncio.open_connection(*self.upstream)
            writers.append(server_w)
            await asyncio.gather(
                self._pump(client_r, server_w, from_browser=True),
                self._pump(server_r, client_w, from_browser=False),
            )
        except OSError:
            return
        finally:
            for writer in writers:
                writer.close()

    def _take(self, data: bytes) -> int:
        """How much of `data` (from the browser) may pass before a planned stall."""
        if self._budget is None:
            return len(data)
        n = min(len(data), self._budget)
        self._budget -= n
        if self._budget == 0:
            self._budget = None
            self._flowing.clear()
        return n

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_browser: bool
    ) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(_READ)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                while data:
                    await self._flowing.wait()
                    n = self._take(data) if from_browser else len(data)
                    if n == 0:
                        continue
                    piece, data = data[:n], data[n:]
                    if from_browser:
                        self.requests.extend(
                            f"{m.group(1).decode()} {m.group(2).decode()}"
                            for m in _REQUEST_LINE.finditer(piece)
                        )
                    writer.write(piece)
                    await writer.drain()
        except (ConnectionError, OSError):
            return


@contextmanager
def stalling_proxy(upstream_url: str) -> Iterator[StallingProxy]:
    """A StallingProxy in front of `upstream_url`, flowing; closed afterwards."""
    parts = urlsplit(upstream_url)
    proxy = StallingProxy((parts.hostname or "127.0.0.1", int(parts.port or 80)))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
