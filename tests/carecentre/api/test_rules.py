"""``/api/v1/rules`` and ``/api/v1/rules-file``: supervisors edit, export and import routing
rules; a missing queue is a clear error on save; a file with mistakes changes nothing."""

from __future__ import annotations

from sqlmodel import select

from carecentre.models import Event, Ticket
from carecentre.states import Role
from carecentre.supervision_models import RoutingRule
from tests.support.api import PREFIX, Api

POTHOLES = {
    "name": "Potholes",
    "when": {"words": ["pothole"], "channel": ["sms", "email"]},
    "then": {"queue": "roads", "priority": "high", "tags": ["pothole"]},
}


def test_agents_may_not_see_or_change_rules(api: Api) -> None:
    _, token = api.agent("agent@city.example")
    assert api.get("/rules", token=token).status_code == 403
    assert api.post("/rules", POTHOLES, token=token).status_code == 403
    assert api.count(RoutingRule) == 0


def test_a_rule_naming_a_missing_queue_is_refused_with_the_field(api: Api) -> None:
    response = api.post("/rules", {**POTHOLES, "then": {"queue": "road"}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "then.queue"
    assert error["problems"] == [
        {"rule": None, "name": None, "field": "then.queue", "message": "there is no queue 'road'"}
    ]
    assert api.get("/rules").json() == {"items": []}


def test_a_saved_rule_routes_new_tickets_and_says_so(api: Api) -> None:
    created = api.post("/rules", POTHOLES)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["position"], rule["then"]["queue"]) == (1, "roads")

    reference = api.sms("Big pothole on Elm St")
    ticket = api.ticket(reference)
    assert (ticket["queue"], ticket["priority"]) == ("roads", "high")
    routing = api.get(f"/tickets/{reference}/routing").json()
    assert routing == {
        "reference": reference,
        "how": "rule",
        "rule_id": rule["id"],
        "label": "rule “Potholes”",
        "sla": None,
    }

    moved = api.request("PUT", f"/rules/{rule['id']}", json={**POTHOLES, "enabled": False})
    assert moved.json()["enabled"] is False
    assert api.ticket(api.sms("Another pothole", sender="+16135550199"))["queue"] == "general"
    assert api.request("DELETE", f"/rules/{rule['id']}").json() == {
        "id": rule["id"],
        "deleted": True,
    }
    assert api.get(f"/rules/{rule['id']}").status_code == 404


def test_a_rules_file_with_mistakes_changes_nothing_and_lists_them_all(api: Api) -> None:
    api.post("/rules", POTHOLES)
    before = api.get("/rules").json()
    counts = api.counts(Ticket, Event)
    document = {
        "rules": [
            {"name": "Bins", "when": {"words": ["bin"]}, "then": {"queue": "waste"}},
            {"name": "Nowhere", "when": {}, "then": {"queue": "nowhere"}},
            {"name": "Odd", "when": {"hours": "25:00-26:00"}, "then": {"priority": "now"}},
        ]
    }
    response = api.request("PUT", "/rules-file", json=document)
    assert response.status_code == 422
    problems = response.json()["error"]["problems"]
    assert [(p["rule"], p["name"], p["field"]) for p in problems] == [
        (2, "Nowhere", "then.queue"),
        (3, "Odd", "when.hours"),
        (3, "Odd", "then.priority"),
    ]
    assert response.json()["error"]["message"].startswith("3 problems: rule 2 ('Nowhere')")
    assert api.get("/rules").json() == before
    assert api.counts(Ticket, Event) == counts


def test_the_rules_file_round_trips_as_toml(api: Api) -> None:
    api.post("/rules", POTHOLES)
    api.post("/rules", {"name": "Night", "when": {"open": False}, "then": {"priority": "low"}})
    exported = api.get("/rules-file", params={"format": "toml"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/toml")
    assert "attachment" in exported.headers["content-disposition"]
    text = exported.text
    assert '[rules.when]\nchannel = ["sms", "email"]\nwords = ["pothole"]' in text

    for rule in api.get("/rules").json()["items"]:
        api.request("DELETE", f"/rules/{rule['id']}")
    imported = api.client.put(
        PREFIX + "/rules-file",
        content=text.encode(),
        headers={**api.auth(), "Content-Type": "application/toml"},
    )
    assert imported.json() == {"imported": 2}
    assert api.get("/rules-file", params={"format": "toml"}).text == text
    names = [r["name"] for r in api.get("/rules").json()["items"]]
    assert names == ["Potholes", "Night"]


def test_a_supervisor_limited_to_queues_edits_only_their_rules(api: Api) -> None:
    _, token = api.agent("boss@city.example", role=Role.SUPERVISOR, queues=["waste"])
    refused = api.post("/rules", POTHOLES, token=token)
    assert refused.status_code == 422
    assert refused.json()["error"]["problems"][0]["field"] == "then.queue"
    bins = {"name": "Bins", "when": {"words": ["bin"]}, "then": {"queue": "waste"}}
    assert api.post("/rules", bins, token=token).status_code == 201
    assert api.request("PUT", "/rules-file", json={"rules": []}, token=token).status_code == 403

    async def names(svc: object) -> list[str]:
        async with api.services.db.read() as session:
            return list(await session.scalars(select(RoutingRule.name)))

    assert api.run(names) == ["Bins"]
