"""Supervision over the API: SLA policies, queue settings and capacities, for supervisors and
administrators only (403), within the queues they may see."""

from __future__ import annotations

from carecentre.supervision_models import AgentCapacity, SlaPolicy
from tests.support.api import Api


def test_agents_get_403_for_supervisors_actions(api: Api) -> None:
    _, token = api.agent("agent@city.example")
    reference = api.sms("Pothole")
    for method, path, body in (
        ("POST", "/supervisor/reassign", {"tickets": [reference], "assignee": None}),
        ("PUT", "/sla-policies", {"first_response_minutes": 60, "resolution_minutes": 600}),
        ("GET", "/supervisor/wallboard", None),
        ("GET", "/supervisor/reports", None),
        ("PUT", "/agents/1/capacity", {"max_open": 3}),
        ("PUT", "/agents/1/presence", {"status": "away"}),
    ):
        response = api.request(method, path, token=token, json=body)
        assert response.status_code == 403, (method, path, response.text)


def test_sla_policies_queue_settings_and_capacities(api: Api) -> None:
    policy = api.request(
        "PUT",
        "/sla-policies",
        json={"queue": "roads", "priority": "urgent", "first_response_minutes": 30,
              "resolution_minutes": 240},
    )  # fmt: skip
    assert policy.status_code == 200, policy.text
    again = api.request(
        "PUT",
        "/sla-policies",
        json={"queue": "roads", "priority": "urgent", "first_response_minutes": 20,
              "resolution_minutes": 240},
    )  # fmt: skip
    assert again.json()["id"] == policy.json()["id"]  # one policy per queue and priority
    assert api.get("/sla-policies").json()["items"] == [again.json()]
    assert api.count(SlaPolicy) == 1
    bad = api.request(
        "PUT", "/sla-policies", json={"queue": "nowhere", "first_response_minutes": 1,
                                      "resolution_minutes": 1},
    )  # fmt: skip
    assert bad.status_code == 422
    assert api.request("DELETE", f"/sla-policies/{policy.json()['id']}").status_code == 200
    assert api.count(SlaPolicy) == 0

    queues = {q["slug"]: q["id"] for q in api.get("/queues").json()["items"]}
    hours = {"hours": {"saturday": ["09:00-17:00"]}}
    saved = api.request(
        "PUT",
        f"/queues/{queues['roads']}/settings",
        json={"assignment": "round_robin", "hours": hours},
    )
    assert saved.json() == {"queue": "roads", "assignment": "round_robin", "hours": hours}
    assert api.get(f"/queues/{queues['roads']}/settings").json() == saved.json()
    wrong = api.request(
        "PUT", f"/queues/{queues['roads']}/settings", json={"hours": {"hours": {"caturday": []}}}
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"].startswith("hours.hours.caturday: unknown key")
    assert api.get(f"/queues/{queues['roads']}/settings").json()["assignment"] == "round_robin"

    sam, _ = api.agent("sam@city.example")
    capacity = api.request("PUT", f"/agents/{sam}/capacity", json={"max_open": 8})
    assert capacity.json() == {"agent_id": sam, "max_open": 8}
    assert api.count(AgentCapacity) == 1
    assert api.request("PUT", f"/agents/{sam}/capacity", json={"max_open": -1}).status_code == 422
