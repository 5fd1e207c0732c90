"""/docs (Swagger UI) and /redoc (ReDoc) with every asset served here: no CDN, no web font.

The bundles come from the `fastapi-offline` package (mounted at /docs/assets); ReDoc's is served
with the one outside URL it would load (its footer logo, from its CDN) blanked. The pages carry a
CSP as strict as the web UI's for scripts (this server's files only, none inline); styles may be
inline because both renderers set them at run time (ReDoc injects style elements).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"

SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Enclave API</title>
<link rel="icon" href="/docs/assets/favicon.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs-swagger.js"></script></body></html>
"""

REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Enclave API</title>
<link rel="icon" href="/docs/assets/favicon.png"></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script></body></html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve the two documentation pages and their assets (create the app with
    `docs_url=None, redoc_url=None`)."""
    redoc_js = (ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"data:,")

    @app.get("/docs/assets/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(redoc_js, media_type="text/javascript")

    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return HTMLResponse(SWAGGER, headers=HEADERS)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC, headers=HEADERS)
