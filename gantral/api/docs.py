"""The interactive docs (development profile), served entirely by the API: Swagger UI's and
ReDoc's assets come from a Python package (fastapi-offline's copy of swagger-ui-dist 5 and
ReDoc 2), never from a CDN, so `/docs` works on an air-gapped site."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "PATHS", "install"]

ASSETS = Path(fastapi_offline.__file__).parent / "static"
_STATIC = "/docs/static"
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "redoc.standalone.js")
# Public (no token): the pages, their assets and the document they render.
PATHS = frozenset(
    {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
    | {f"{_STATIC}/{name}" for name in _FILES}
)


def install(app: FastAPI) -> None:
    """Add `/docs` and `/redoc` (create the app with docs_url=None, redoc_url=None)."""
    app.mount(_STATIC, StaticFiles(directory=ASSETS), name="docs-static")
    title = f"{app.title} - API docs"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=title,
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{_STATIC}/favicon.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=title,
            redoc_js_url=f"{_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{_STATIC}/favicon.png",
            with_google_fonts=False,
        )
