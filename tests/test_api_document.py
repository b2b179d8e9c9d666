"""The API document of the whole app (core, channels and agent UI together): every route served
under ``/api/v1``, the plugins' included, is described, and nothing else is."""

from __future__ import annotations

from pathlib import Path

from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from carecentre.composition import build_app
from carecentre.settings import load_settings

PREFIX = "/api/v1"
METHODS = {"get", "put", "post", "patch", "delete"}


def test_every_api_route_of_the_composed_app_is_documented(tmp_path: Path) -> None:
    app = build_app(load_settings({}, data_dir=tmp_path, smtp_port=0))
    with TestClient(app) as client:
        document = client.get(PREFIX + "/openapi.json").json()
    validate(document, cls=OpenAPIV31SpecValidator)

    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount) and route.path == PREFIX:
            inner = [(r.path, r) for r in route.routes if isinstance(r, Route)]
        elif isinstance(route, Route) and route.path.startswith(PREFIX + "/"):
            inner = [(route.path[len(PREFIX) :], route)]
        else:
            continue
        for path, served_route in inner:
            served |= {
                (path, m.lower()) for m in served_route.methods or () if m.lower() in METHODS
            }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}

    assert documented == served - {("/openapi.json", "get")}
    assert ("/sms/segments", "post") in documented
    assert ("/tickets/{reference}/calls", "post") in documented
