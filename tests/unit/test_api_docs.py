"""`/docs` works offline: the page and every asset it loads come from the API itself
(Swagger UI 5, which renders OpenAPI 3.1), nothing from a CDN; production serves no docs."""

from __future__ import annotations

import re

import httpx
import pytest

from gantral.api.app import create_app
from gantral.settings import Profile, Settings


def _client(profile: Profile) -> httpx.AsyncClient:
    app = create_app(Settings(profile=profile, workflows_dir=None, _env_file=None))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gantral")


@pytest.mark.asyncio
async def test_docs_pages_load_only_local_assets() -> None:
    async with _client(Profile.DEVELOPMENT) as api:
        for page in ("/docs", "/redoc"):
            html = (await api.get(page)).text
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            urls += re.findall(r"""url: ?["']([^"']+)["']""", html)
            assert urls, page
            remote = [u for u in urls if u.startswith(("http:", "https:", "//"))]
            assert remote == [], (page, remote)
            assert "cdn." not in html and "fonts.googleapis" not in html
            for url in urls:
                resp = await api.get(url)
                assert resp.status_code == 200 and resp.content, (page, url)
        bundle = (await api.get("/docs/static/swagger-ui-bundle.js")).text
        assert "SwaggerUIBundle" in bundle and len(bundle) > 500_000
        assert (await api.get("/openapi.json")).json()["openapi"].startswith("3.1")


def test_production_serves_no_docs() -> None:
    identity = {"issuer": "https://login.example.com", "dev_issuer": {"enabled": False}}
    settings = Settings(
        profile=Profile.PRODUCTION, workflows_dir=None, identity=identity, _env_file=None
    )
    paths = {getattr(route, "path", "") for route in create_app(settings).routes}
    assert not paths & {"/docs", "/redoc", "/docs/static", "/openapi.json"}
