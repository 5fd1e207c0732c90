"""A loopback stand-in for a Qdrant server's REST API, for tests (no Qdrant server runs here).

It answers the requests `QdrantClientStore` makes over HTTP from qdrant-client's local mode
(so search, filters, fusion and counts behave as local mode does) and records each request's
method, path and JSON body: the bytes a real server would receive. What it cannot show is how a
real server treats them (sharding, replication, HNSW, quantization, payload indexes, vacuum):
local mode ignores those, and this front only records them.

`script` scripts answers: {(method, path): [(status, result), ...]} answers the next matching
requests so (a status other than 200 with Qdrant's error body) before serving them again.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from qdrant_client import QdrantClient, models

Request = tuple[str, str, Any]  # method, path (no query string), JSON body or None
_PATH = re.compile(r"^/collections/(?P<name>[^/]+)(?P<rest>(/[a-z/]+)?)$")


class QdrantFront(ThreadingHTTPServer):
    """Qdrant's REST API on 127.0.0.1, served by a local-mode twin; records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.twin = QdrantClient(location=":memory:")
        self.requests: list[Request] = []
        self.script: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.indexes: dict[str, dict[str, dict[str, Any]]] = {}  # collection -> field -> schema
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def bodies(self, method: str, path: str) -> list[Any]:
        """The JSON bodies of the recorded requests with this method and path."""
        return [body for m, p, body in self.requests if (m, p) == (method, path)]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.twin.close()

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """(status, result) for one request, from the twin."""
        with self._lock:
            self.requests.append((method, path, body))
            scripted = self.script.get((method, path))
            if scripted:
                return scripted.pop(0)
            match = _PATH.match(path)
            if match is None:
                return 404, None
            route = _ROUTES.get((method, match["rest"]))
            if route is None:
                return 404, None
            return 200, route(self, match["name"], body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: QdrantFront

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?", 1)[0]
        try:
            status, result = self.server.answer(self.command, path, body)
        except ValueError as exc:  # the twin refused it, as a server would with 400
            status, result = 400, str(exc)
        except Exception as exc:  # a bug in the front: answered, so the test fails at once
            status, result = 500, type(exc).__name__
        if status == 200:
            reply: dict[str, Any] = {"result": result, "status": "ok", "time": 0.0}
        else:
            reply = {"status": {"error": f"scripted or refused: {result}"}, "time": 0.0}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


def _exists(front: QdrantFront, name: str, body: Any) -> Any:
    return {"exists": front.twin.collection_exists(name)}


def _create(front: QdrantFront, name: str, body: Any) -> Any:
    spec = models.CreateCollection.model_validate(body)
    return front.twin.create_collection(
        name, vectors_config=spec.vectors, sparse_vectors_config=spec.sparse_vectors
    )


def _info(front: QdrantFront, name: str, body: Any) -> Any:
    info = _dump(front.twin.get_collection(name))
    info["payload_schema"] = front.indexes.get(name, {})
    return info


def _update(front: QdrantFront, name: str, body: Any) -> Any:
    front.twin.get_collection(name)  # 404-like ValueError when absent
    return True


def _index(front: QdrantFront, name: str, body: Any) -> Any:
    spec = models.CreateFieldIndex.model_validate(body)
    schema = _dump(spec.field_schema) if hasattr(spec.field_schema, "model_dump") else {}
    front.indexes.setdefault(name, {})[spec.field_name] = {
        "data_type": schema.get("type", str(spec.field_schema)),
        "params": schema,
        "points": 0,
    }
    return {"operation_id": 0, "status": "completed"}


def _upsert(front: QdrantFront, name: str, body: Any) -> Any:
    points = models.PointsList.model_validate(body).points
    front.twin.upsert(name, points=points, wait=True)
    return {"operation_id": 0, "status": "completed"}


def _query(front: QdrantFront, name: str, body: Any) -> Any:
    q = models.QueryRequest.model_validate(body)
    with warnings.catch_warnings():  # local mode: "search_params has no effect" (it is exact)
        warnings.simplefilter("ignore", UserWarning)
        result = front.twin.query_points(
            name,
            query=q.query,
            using=q.using,
            prefetch=q.prefetch,
            query_filter=q.filter,
            search_params=q.params,
            limit=q.limit or 10,
            with_payload=q.with_payload if q.with_payload is not None else True,
            with_vectors=q.with_vector or False,
        )
    return _dump(result)


def _scroll(front: QdrantFront, name: str, body: Any) -> Any:
    s = models.ScrollRequest.model_validate(body)
    records, offset = front.twin.scroll(
        name, scroll_filter=s.filter, limit=s.limit or 10, with_payload=s.with_payload or False
    )
    return {"points": [_dump(r) for r in records], "next_page_offset": offset}


def _count(front: QdrantFront, name: str, body: Any) -> Any:
    c = models.CountRequest.model_validate(body)
    return _dump(front.twin.count(name, count_filter=c.filter, exact=bool(c.exact)))


def _delete(front: QdrantFront, name: str, body: Any) -> Any:
    selector = models.FilterSelector.model_validate(body)
    front.twin.delete(name, points_selector=selector, wait=True)
    return {"operation_id": 0, "status": "completed"}


_ROUTES: dict[tuple[str, str], Callable[[QdrantFront, str, Any], Any]] = {
    ("GET", "/exists"): _exists,
    ("PUT", ""): _create,
    ("GET", ""): _info,
    ("PATCH", ""): _update,
    ("PUT", "/index"): _index,
    ("PUT", "/points"): _upsert,
    ("POST", "/points/query"): _query,
    ("POST", "/points/scroll"): _scroll,
    ("POST", "/points/count"): _count,
    ("POST", "/points/delete"): _delete,
}
