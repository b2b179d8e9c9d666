"""``/api/v1/openapi.json``: a valid OpenAPI 3.1 document that matches the app route for route,
and whose schemas the real responses fit (every response through the ``api`` fixture is checked;
here each operation is driven once more, to its success)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.routing import Mount, Route

from carecentre.api.openapi import build
from carecentre.contract import InboundAttachment
from tests.support.api import PREFIX, Api, OpenApiValidator

METHODS = {"get", "put", "post", "patch", "delete"}
# The document itself is the one API route it does not describe.
UNDOCUMENTED = {("/openapi.json", "get")}


def _document(api: Api) -> dict[str, Any]:
    response = api.client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _app_operations(api: Api) -> set[tuple[str, str]]:
    """(path, method) of every route the app serves under the API's mount."""
    (mount,) = [
        route
        for route in api.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Mount) and route.path == PREFIX
    ]
    found = set()
    for route in mount.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method.lower() in METHODS:
                found.add((route.path, method.lower()))
    return found


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_document_is_valid_openapi_3_1(sqlite_api: Api) -> None:
    document = _document(sqlite_api)

    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document == build()
    assert document["servers"] == [{"url": PREFIX}]


def test_every_component_is_a_valid_json_schema(sqlite_api: Api) -> None:
    components = _document(sqlite_api)["components"]["schemas"]
    for name, schema in components.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "nullable" not in str(schema), f"{name}: nullable is OpenAPI 3.0, not 3.1"


def test_every_route_is_documented_and_every_documented_route_exists(sqlite_api: Api) -> None:
    document = _document(sqlite_api)

    assert _documented(document) == _app_operations(sqlite_api) - UNDOCUMENTED


def test_every_documented_operation_answers_and_asks_for_a_token(sqlite_api: Api) -> None:
    """Over HTTP: each documented operation is routed (no 404/405 from the router) and says
    401 without a token, as documented."""
    api = sqlite_api
    document = _document(api)
    values = {"reference": "CC-000-000-000", "id": "1"}
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"

    for path, method in sorted(_documented(document)):
        operation = document["paths"][path][method]
        assert "401" in operation["responses"], (method, path)
        url = PREFIX + path.format(**values)
        response = api.client.request(method.upper(), url, json={} if method != "get" else None)
        assert response.status_code == 401, (method, path, response.text)
        api.openapi.check(response)


def test_every_documented_path_parameter_is_declared(sqlite_api: Api) -> None:
    document = _document(sqlite_api)
    for path, item in document["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method in item:
            declared = {p["name"] for p in item[method].get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_real_responses_fit_the_documented_schemas(api: Api) -> None:
    """Drives every operation to its documented success; ``api`` checks each response."""
    reference = api.email(
        "Pothole",
        "A hole at 125 Main",
        name="Marie",
        queue="roads",
        attachments=(InboundAttachment("hole.jpg", "image/jpeg", data=b"\xff\xd8"),),
    )
    api.sms("Missed bin", queue="waste")
    agent_id, _ = api.agent("sam@city.example")

    listed = api.get("/tickets", params={"limit": "1"})
    assert listed.json()["next_cursor"]
    api.get("/tickets", params={"q": "hole", "status": "new", "assignee": "none"})
    ticket = api.get(f"/tickets/{reference}").json()
    assert api.post(f"/tickets/{reference}/replies", {"body": "On it"}).status_code == 202
    assert api.post(f"/tickets/{reference}/notes", {"body": "Crew 4"}).status_code == 201
    patched = api.patch(
        f"/tickets/{reference}",
        {"status": "resolved", "resolution": "fixed", "priority": "high", "assignee": agent_id},
    )
    assert patched.status_code == 200
    api.patch(f"/tickets/{reference}", {"queue": "general", "assignee": None})
    assert api.get(f"/contacts/{ticket['contact']['id']}").status_code == 200
    assert api.get("/queues").status_code == 200
    assert api.get("/stats").status_code == 200
    attachment = ticket["messages"][0]["attachments"][0]["id"]
    assert api.get(f"/attachments/{attachment}").status_code == 200
    # And the documented errors.
    assert api.get("/tickets", params={"limit": "0"}).status_code == 422
    assert api.get("/tickets/CC-000-000-000").status_code == 404
    assert api.patch(f"/tickets/{reference}", {"status": "new"}).status_code == 409


def test_the_validator_rejects_what_the_document_does_not_promise(sqlite_api: Api) -> None:
    validator = OpenApiValidator(_document(sqlite_api))
    ticket_page = validator.document["paths"]["/tickets"]["get"]["responses"]["200"]
    schema = ticket_page["content"]["application/json"]["schema"]

    validator.validate(schema, {"items": [], "next_cursor": None})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(schema, {"items": [{"reference": "CC-000-000-000"}]})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(schema, {"items": [], "next_cursor": 5})
    assert validator.template("/tickets/CC-000-000-000/notes") == "/tickets/{reference}/notes"
    with pytest.raises(AssertionError):
        validator.template("/nothing")
