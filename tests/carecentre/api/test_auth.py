"""Bearer tokens: a missing, wrong or revoked token, or a deactivated agent's, is a 401 on every
route, and nothing already stored changes."""

from __future__ import annotations

import pytest

from carecentre.contract import InboundAttachment
from carecentre.tokens import PREFIX
from tests.support.api import Api

ROUTES = [
    ("GET", "/tickets", None),
    ("GET", "/tickets/{reference}", None),
    ("PATCH", "/tickets/{reference}", {"status": "closed"}),
    ("POST", "/tickets/{reference}/replies", {"body": "hello"}),
    ("POST", "/tickets/{reference}/notes", {"body": "hello"}),
    ("POST", "/tickets/{reference}/claim", None),
    ("GET", "/contacts/{contact}", None),
    ("GET", "/queues", None),
    ("GET", "/stats", None),
    ("GET", "/attachments/{attachment}", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]


def _seed(api: Api) -> dict[str, str]:
    reference = api.email(
        "Photo of the pothole",
        attachments=(InboundAttachment("hole.jpg", "image/jpeg", data=b"\xff\xd8 jpeg"),),
    )
    ticket = api.ticket(reference)
    return {
        "reference": reference,
        "contact": str(ticket["contact"]["id"]),
        "attachment": str(ticket["messages"][0]["attachments"][0]["id"]),
    }


def _assert_401(api: Api, headers: dict[str, str], keys: dict[str, str]) -> None:
    before = api.snapshot(keys["reference"])
    for method, path, body in ROUTES:
        response = api.client.request(
            method, "/api/v1" + path.format(**keys), json=body, headers=headers
        )
        api.openapi.check(response)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["code"] == "unauthorized"
        assert error["message"]
    assert api.snapshot(keys["reference"]) == before


WRONG = {
    "none": {},
    "empty": {"Authorization": ""},
    "no-token": {"Authorization": "Bearer"},
    "blank": {"Authorization": "Bearer "},
    "basic": {"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="},
    "unknown": {"Authorization": f"Bearer {PREFIX}not-a-token"},
    "foreign": {"Authorization": "Bearer not-even-our-prefix"},
    "long": {"Authorization": f"Bearer {PREFIX}{'x' * 500}"},
}


def test_a_missing_or_wrong_token_is_401(api: Api, subtests: pytest.Subtests) -> None:
    keys = _seed(api)
    for name, headers in WRONG.items():
        with subtests.test(name):
            _assert_401(api, headers, keys)


def test_the_scheme_is_case_insensitive(api: Api) -> None:
    response = api.client.get("/api/v1/queues", headers={"Authorization": f"bearer {api.token}"})
    assert response.status_code == 200


def test_a_revoked_token_is_401(api: Api) -> None:
    keys = _seed(api)
    _agent_id, token = api.agent("sam@city.example")
    assert api.get("/queues", token=token).status_code == 200

    api.revoke(token)

    _assert_401(api, api.auth(token), keys)
    assert api.get("/queues").status_code == 200  # the admin's own token still works


def test_a_deactivated_agents_token_is_401(api: Api) -> None:
    keys = _seed(api)
    agent_id, token = api.agent("sam@city.example")
    assert api.get("/tickets", token=token).status_code == 200

    api.deactivate(agent_id)

    _assert_401(api, api.auth(token), keys)


def test_the_openapi_document_needs_no_token(api: Api) -> None:
    response = api.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")
