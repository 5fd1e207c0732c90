"""Multipart uploads parsed as they stream in, once the caller is authorised.

The upload route declares no body parameter, so nothing is read (or spooled to disk) before its
dependencies have checked who is calling and their write permission. `check()` then refuses a
body that is not multipart or announces more than the limit, at once; `receive()` returns a
`MultipartFile`: python-multipart's streaming parser over the request body that hands the bytes
of the one part named `file` to whoever reads it (`Originals.receive`, which hashes them
and stops at the limit). The whole body is capped too, so chunked transfer or a lying
Content-Length gains nothing, and a body that stalls (no bytes for `idle_s`) is a 408, so a slow
client cannot hold an upload thread for ever. Uploads stream in on a pool of threads of their own.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import anyio.from_thread
import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.errors import InvalidRequest, RequestTimeout
from app.originals import too_large

FIELD = "file"
ENVELOPE = 64 * 1024  # room for boundaries, part headers and small form fields
NO_FILE = f"send the document as multipart/form-data in a part named {FIELD!r}"

# The request body as OpenAPI should describe it (the route reads it itself).
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "The document, with its file name.",
                        }
                    },
                }
            }
        },
    }
}


T = TypeVar("T")


async def in_upload_thread(request: Request, func: Callable[..., T], *args: object) -> T:
    """`func(*args, request)` on a thread of the uploads' own pool (`upload_threads`): a slow
    client holds one while its body trickles in, and must not hold those every request needs."""
    work = functools.partial(func, *args, request)
    return await anyio.to_thread.run_sync(work, limiter=request.app.state.upload_threads)


def check(request: Request, *, max_bytes: int) -> bytes:
    """The multipart boundary, from the headers alone: refuse a body that is not multipart, or
    announced larger than the limit allows, before reading any of it."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest(NO_FILE)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + ENVELOPE:
        raise too_large(max_bytes)
    return boundary


def receive(
    request: Request, *, boundary: bytes, max_bytes: int, idle_s: float | None = None
) -> MultipartFile:
    """The upload's file part, its headers parsed; call on a worker thread."""
    upload = MultipartFile(
        body_chunks(request, idle_s),
        boundary=boundary,
        max_bytes=max_bytes,
        max_body=max_bytes + ENVELOPE,
    )
    upload.open()
    return upload


def body_chunks(request: Request, idle_s: float | None = None) -> Iterator[bytes]:
    """The request body chunk by chunk, pulled from the event loop by a worker thread (anyio's,
    so that it can call back into the loop)."""
    stream = request.stream()
    while True:
        try:
            chunk = anyio.from_thread.run(_next, stream, idle_s)
        except ClientDisconnect:
            raise InvalidRequest("the upload was interrupted") from None
        except TimeoutError:
            raise RequestTimeout(f"the upload stalled: no data for {idle_s:g} s") from None
        if chunk is None:
            return
        if chunk:
            yield chunk


async def _next(stream: AsyncIterator[bytes], idle_s: float | None) -> bytes | None:
    with anyio.fail_after(idle_s):
        return await anext(stream, None)


class MultipartFile:
    """A readable stream over the `file` part of a multipart body, parsed on demand.

    `read()` returns b"" only once the whole body has been parsed and found to hold exactly one
    file part; every refusal is raised from `read()`, so the reader deletes what it wrote.
    """

    def __init__(
        self, chunks: Iterator[bytes], *, boundary: bytes, max_bytes: int, max_body: int
    ) -> None:
        self.filename = ""
        self._chunks = chunks
        self._max_bytes = max_bytes
        self._max_body = max_body
        self._received = 0
        self._buffer = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._in_file = False
        self._file_seen = False
        self._file_done = False
        self._ended = False
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_value,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                    "on_end": self._end,
                },
            )
        except FormParserError:
            raise InvalidRequest("the multipart boundary is invalid") from None

    def open(self) -> str:
        """Parse up to the file part's data; its file name (refusals: no part, no name)."""
        while not self._file_seen:
            if self._ended:
                raise InvalidRequest(NO_FILE)
            self._pull()
        return self.filename

    def read(self, size: int = -1) -> bytes:
        while not self._buffer and not self._file_done:
            self._pull()
        if not self._buffer:
            while not self._ended:  # the rest of the body: a second file is refused
                self._pull()
            return b""
        size = len(self._buffer) if size is None or size < 0 else size
        block = bytes(self._buffer[:size])
        del self._buffer[:size]
        return block

    def _pull(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is None:
            raise InvalidRequest("the multipart body ended early")
        self._received += len(chunk)
        if self._received > self._max_body:
            raise too_large(self._max_bytes)
        try:
            self._parser.write(chunk)
        except FormParserError:
            raise InvalidRequest("the multipart body is malformed") from None

    # --- parser callbacks ----------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != FIELD:
            if b"filename" in options:
                raise InvalidRequest(f"send one file per request, in the part named {FIELD!r}")
            return  # another form field: read past it
        if self._file_seen:
            raise InvalidRequest("send one file per request")
        filename = options.get(b"filename", b"").decode("utf-8", "replace").strip()
        if not filename:
            raise InvalidRequest(f"the {FIELD!r} part needs a filename")
        self.filename = filename
        self._file_seen = self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._buffer += data[start:end]

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    def _end(self) -> None:
        self._ended = True
