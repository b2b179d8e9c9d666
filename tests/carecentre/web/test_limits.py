"""Oversized request bodies: refused with 413 before they are read when their length is
declared, and as soon as they grow past the limit when it is not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from carecentre.web.limits import BodyLimitMiddleware

LIMIT = 1024


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"received": len(body)})


async def streams_first(request: Request) -> Response:
    """Starts answering before it reads: too late for a 413 once the body grows too large."""

    async def chunks() -> Iterator[bytes]:  # type: ignore[misc]
        yield b"started;"
        async for _ in request.stream():
            pass
        yield b"done"

    return StreamingResponse(chunks())


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/streams", streams_first, methods=["POST"]),
        ],
        middleware=[Middleware(BodyLimitMiddleware, max_bytes=LIMIT)],
    )
    with TestClient(app) as test_client:
        yield test_client


def _chunks(total: int, size: int = 100) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_a_body_within_the_limit_is_read(client: TestClient) -> None:
    assert client.post("/echo", content=b"x" * LIMIT).json() == {"received": LIMIT}
    assert client.post("/echo", content=_chunks(LIMIT)).json() == {"received": LIMIT}


def test_a_declared_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/echo", content=b"x" * (LIMIT + 1))

    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json() == {
        "error": {"code": "too_large", "message": f"the body exceeds {LIMIT} bytes"}
    }


def test_an_undeclared_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/echo", content=_chunks(LIMIT + 1))

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_a_lying_content_length_is_caught_while_reading(client: TestClient) -> None:
    response = client.post(
        "/echo", content=_chunks(LIMIT * 3), headers={"Content-Length": str(LIMIT)}
    )
    assert response.status_code == 413


def test_an_unreadable_content_length_is_not_trusted(client: TestClient) -> None:
    response = client.post("/echo", content=_chunks(LIMIT * 2), headers={"Content-Length": "x"})
    assert response.status_code == 413


def test_a_response_already_started_is_not_replaced(client: TestClient) -> None:
    response = client.post("/streams", content=_chunks(LIMIT * 2))

    # No second status line in the middle of a body: the response just stops short.
    assert response.status_code == 200
    assert b"done" not in response.content


def test_bodiless_requests_pass(client: TestClient) -> None:
    assert client.post("/echo").json() == {"received": 0}
