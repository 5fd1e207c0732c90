"""A generator behind the OpenAI-compatible chat API (vLLM, llama.cpp's server), over HTTP.

`POST {base_url}/chat/completions` with `stream: true`; the answer arrives as server-sent events
(`data: {chunk}` lines, the last `data: [DONE]`). Failures become `GeneratorUnavailable`
(connection refused, timeouts, 5xx, 408/429, a stream cut short; `retry_after_s` from a
`Retry-After` header) or `GeneratorRejected` (other 4xx: bad key, unknown model, request too
long). Only the connection phase is retried (tenacity; the request never reached the server),
never a request that was sent or a stream that started. Error messages name status codes and
error types only, never prompt, answer or server message text. Proxy environment variables are
ignored (`trust_env=False`): the generator is reached directly, as an air-gapped site expects.

At most `max_concurrency` answers stream at once from one client; a request that waits longer
than `queue_timeout_s` for a slot is unavailable (busy). Unavailability without a server-given
`Retry-After` suggests `retry_after_s`. The served model's name and context length (vLLM's
`max_model_len`) come from `GET /models` unless configured; nothing is restarted when the
server goes away and comes back: the next request simply connects again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from serving.errors import GeneratorUnavailable, error_for_status
from serving.protocols import Message

_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout)
_SAFE_WORD = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


class OpenAIChatGenerator:
    """Streams chat completions from an OpenAI-compatible server; safe to share across threads."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        connect_attempts: int = 3,
        connect_backoff_s: float = 0.5,
        max_concurrency: int = 8,
        queue_timeout_s: float = 30.0,
        retry_after_s: float = 5.0,
        check_timeout_s: float = 2.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        connect = min(timeout_s, connect_timeout_s)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect, pool=queue_timeout_s),
            limits=httpx.Limits(max_connections=max_concurrency + 2),
            trust_env=False,
        )
        self._model = model
        self._context_tokens: int | None = None
        self._described = False
        self._model_lock = threading.Lock()
        self._attempts = connect_attempts
        self._backoff_s = connect_backoff_s
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._queue_timeout_s = queue_timeout_s
        self._retry_after_s = retry_after_s
        self._check_timeout = httpx.Timeout(check_timeout_s)

    @property
    def name(self) -> str:
        """The served model: as configured, else the first id of `GET /models` (asked once)."""
        if self._model is None:
            self._describe()
        assert self._model is not None
        return self._model

    @name.setter
    def name(self, value: str) -> None:
        self._model = value

    @property
    def context_tokens(self) -> int | None:
        """The served model's context window (`max_model_len` in `GET /models`; asked once),
        or None when the server does not say."""
        if not self._described:
            self._describe()
        return self._context_tokens

    def check(self) -> None:
        """Readiness: `GET /models` answers now (one try, a short timeout); raises if not."""
        request = self._client.build_request("GET", "/models", timeout=self._check_timeout)
        self._read_models(self._send(request, attempts=1))

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield text deltas; closing the iterator closes the connection (vLLM then aborts)."""
        body = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if not self._slots.acquire(timeout=self._queue_timeout_s):
            raise GeneratorUnavailable(
                "the generator is busy (every slot taken)", retry_after_s=self._retry_after_s
            )
        try:
            request = self._client.build_request("POST", "/chat/completions", json=body)
            response = self._send(request)
            try:
                yield from _sse_deltas(response)
            except httpx.TimeoutException as exc:
                raise GeneratorUnavailable("the generator stopped responding mid-answer") from exc
            except httpx.TransportError as exc:
                raise GeneratorUnavailable(
                    f"the connection to the generator broke ({type(exc).__name__})"
                ) from exc
            finally:
                response.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        self._client.close()

    def _describe(self) -> None:
        """Learn the model's name (unless configured) and context length from `GET /models`."""
        with self._model_lock:
            if not self._described:
                self._read_models(self._send(self._client.build_request("GET", "/models")))

    def _read_models(self, response: httpx.Response) -> None:
        try:
            response.read()
            models = response.json().get("data") or []
            card = next((m for m in models if m.get("id") == self._model), None) or models[0]
            limit = card.get("max_model_len") if self._model in (None, card["id"]) else None
            self._model = self._model or str(card["id"])
            self._context_tokens = limit if isinstance(limit, int) and limit > 0 else None
            self._described = True
        except (ValueError, LookupError, AttributeError, TypeError, httpx.HTTPError):
            raise GeneratorUnavailable("the generator lists no model") from None
        finally:
            response.close()

    def _send(self, request: httpx.Request, *, attempts: int | None = None) -> httpx.Response:
        """Send (retrying only connection failures); raise for error statuses."""
        retrying = Retrying(
            retry=retry_if_exception_type(_RETRYABLE),
            stop=stop_after_attempt(attempts or self._attempts),
            wait=wait_exponential(multiplier=self._backoff_s, max=5.0),
            reraise=True,
        )
        later = self._retry_after_s
        try:
            response = retrying(self._client.send, request, stream=True)
        except httpx.TimeoutException as exc:
            what = f"the generator timed out ({type(exc).__name__})"
            raise GeneratorUnavailable(what, retry_after_s=later) from exc
        except httpx.TransportError as exc:
            what = f"cannot reach the generator ({type(exc).__name__})"
            raise GeneratorUnavailable(what, retry_after_s=later) from exc
        if response.status_code >= 400:
            try:
                response.read()
            except httpx.HTTPError:
                pass
            finally:
                response.close()
            error = status_error(response)
            if type(error) is GeneratorUnavailable and error.retry_after_s is None:
                error.retry_after_s = later
            raise error
        return response


def status_error(response: httpx.Response) -> GeneratorUnavailable:
    """The error for an HTTP error response: its status and error type, nothing else."""
    kind = _error_type(response)
    what = f"the generator answered HTTP {response.status_code}" + (f" ({kind})" if kind else "")
    return error_for_status(
        response.status_code, what, retry_after_s=retry_after(response.headers.get("retry-after"))
    )


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _error_type(response: httpx.Response) -> str | None:
    """`error.type` (or `error.code`) of an OpenAI-style error envelope, if it is a plain word."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return None
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for key in ("type", "code"):
        value = error.get(key)
        if isinstance(value, str) and _SAFE_WORD.fullmatch(value):
            return value
    return None


def _sse_deltas(response: httpx.Response) -> Iterator[str]:
    """Content deltas of an SSE chat-completion stream; raises if it ends without finishing."""
    finished = False
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue  # comments (keep-alive pings), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        chunk = _parse_chunk(data)
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield content
            finished = finished or bool(choice.get("finish_reason"))
    if not finished:
        raise GeneratorUnavailable("the generator's stream ended before the answer did")


def _parse_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise GeneratorUnavailable("the generator sent a malformed stream event") from None
    if not isinstance(chunk, dict):
        raise GeneratorUnavailable("the generator sent a malformed stream event")
    if "error" in chunk or chunk.get("object") == "error":
        raise _stream_error(chunk)
    return chunk


def _stream_error(chunk: dict[str, Any]) -> GeneratorUnavailable:
    """An error event inside the stream (vLLM sends one when generation fails mid-way)."""
    error = chunk.get("error", chunk)
    error = error if isinstance(error, dict) else {}
    code, kind = error.get("code"), error.get("type")
    status = code if isinstance(code, int) else 500
    kind = kind if isinstance(kind, str) and _SAFE_WORD.fullmatch(kind) else "unknown"
    return error_for_status(status, f"the generator failed mid-answer ({kind})")
