"""The chat page, the widget script and the page's assets: headers that keep them safe to embed
only where allowed, and words in the resident's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from carecentre.app import create_app
from channels.webchat.plugin import make_plugin
from tests.conftest import make_settings
from tests.support.live_server import ALWAYS_OPEN


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path, sqlite_url, chat_origins="https://www.city.example/", city_name="Kingsford"
    )
    app = create_app(settings, plugins=[make_plugin(calendar=ALWAYS_OPEN)], migrate=False)
    with TestClient(app) as found:
        yield found


def test_the_chat_page_may_be_framed_only_by_allowed_sites(client: TestClient) -> None:
    page = client.get("/chat")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.city.example;" in policy
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<html lang="en">' in page.text
    assert "Chat with Kingsford" in page.text
    assert "<script>" not in page.text  # no inline script: the words travel as JSON data


def test_french_by_choice_or_by_the_browser(client: TestClient) -> None:
    assert '<html lang="fr">' in client.get("/chat?lang=fr").text
    page = client.get("/chat", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert '<html lang="fr">' in page.text
    assert 'lang="en" hreflang="en">English</a>' in page.text
    assert "embed=1" in client.get("/chat?lang=fr&embed=1").text


def test_the_widget_and_the_assets(client: TestClient) -> None:
    widget = client.get("/chat/widget.js")
    assert widget.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "attachShadow" in widget.text
    assert client.get("/chat/static/chat.css").headers["content-type"].startswith("text/css")
    assert "textContent" in client.get("/chat/static/chat.js").text
    assert "innerHTML" not in client.get("/chat/static/chat.js").text
    assert client.get("/chat/static/..%2Fplugin.py").status_code == 404
    assert client.get("/chat/static/plugin.py").status_code == 404


def test_a_socket_from_a_foreign_page_is_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/chat/ws", headers={"Origin": "https://evil.example"}):
            pass
    assert refused.value.code == 1008
