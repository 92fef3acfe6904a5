"""What a browser finds off the beaten path: a Vietnamese 404 page, /favicon.ico, and /docs with no Internet."""

from __future__ import annotations

import re

from tests.api.world import World

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_an_unknown_page_is_a_vietnamese_page_and_an_unknown_api_path_stays_json(world: World) -> None:
    page = world.client.get("/trang-khong-co", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in page.text and "Không tìm thấy trang" in page.text
    assert 'data-code="page_not_found"' in page.text
    for path, headers in (("/api/v1/khong-co", HTML), ("/trang-khong-co", {"Accept": "application/json"})):
        answer = world.client.get(path, headers=headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_the_favicon_exists(world: World) -> None:
    icon = world.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_docs_load_everything_from_this_server(world: World) -> None:
    docs = world.client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    for asset in assets:
        assert world.client.get(asset).status_code == 200, asset
    assert world.client.get("/openapi.json").json()["info"]["title"] == "broadcaster"
