"""Request timing is labelled by route template, never by the raw path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from carecentre.web.timing import _template
from tests.conftest import make_settings
from tests.support.api import Api, open_api

HISTOGRAM = "carecentre_http_request_duration_seconds_count"


@pytest.fixture
def api(tmp_path: Path, sqlite_url: str) -> Iterator[Api]:
    with open_api(make_settings(tmp_path, sqlite_url, run_dispatcher=False)) as running:
        yield running


def _counts(api: Api) -> dict[tuple[str, str, str], float]:
    text = api.client.get("/metrics").text
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == HISTOGRAM
    }


def test_requests_are_labelled_by_route_template(api: Api) -> None:
    reference = api.sms("hello")
    api.get(f"/tickets/{reference}")
    api.get("/tickets/CC-000-000-000")
    api.post(f"/tickets/{reference}/notes", {"body": "note"})
    api.get("/tickets", params={"status": "new"})
    api.client.get("/healthz")
    api.client.get("/api/v1/openapi.json")

    counts = _counts(api)

    assert counts[("GET", "/api/v1/tickets/{reference}", "200")] >= 1
    assert counts[("GET", "/api/v1/tickets/{reference}", "404")] == 1
    assert counts[("POST", "/api/v1/tickets/{reference}/notes", "201")] == 1
    assert counts[("GET", "/api/v1/tickets", "200")] == 1
    assert counts[("GET", "/healthz", "200")] == 1
    assert counts[("GET", "/api/v1/openapi.json", "200")] >= 1
    assert not [key for key in counts if reference in key[1]]


def test_unknown_paths_share_one_label(api: Api) -> None:
    for n in range(5):
        api.client.get(f"/no/such/page/{n}")
        api.client.get(f"/api/v1/nothing-{n}")

    counts = _counts(api)

    assert counts[("GET", "unmatched", "404")] == 10
    assert not [key for key in counts if "nothing" in key[1] or "page" in key[1]]


def test_a_wrong_method_keeps_the_routes_template(api: Api) -> None:
    reference = api.sms("hello")
    response = api.client.delete(f"/api/v1/tickets/{reference}", headers=api.auth())
    assert response.status_code == 405

    assert _counts(api)[("DELETE", "/api/v1/tickets/{reference}", "405")] == 1


def test_an_oversized_body_is_counted_as_413(api: Api) -> None:
    reference = api.sms("hello")
    limit = api.services.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"body": "'
        yield b"x" * (limit + 1)
        yield b'"}'

    response = api.client.post(
        f"/api/v1/tickets/{reference}/notes",
        content=chunks(),
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413

    counts = _counts(api)
    assert counts[("POST", "/api/v1/tickets/{reference}/notes", "413")] == 1
    assert not [key for key in counts if key[2] == "500"]


def test_a_mounted_app_is_one_label() -> None:
    async def files(scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    routes = [Mount("/static", app=files), Mount("/api", routes=[Route("/x/{id}", files)])]

    def label(path: str) -> str:
        return _template(routes, {"type": "http", "path": path, "method": "GET"})

    assert label("/static/css/site.css") == "/static/{path}"
    assert label("/api/x/12") == "/api/x/{id}"
    assert label("/api/y") == "unmatched"
    assert label("/elsewhere") == "unmatched"
