"""Supervisors' actions on the live queue over the API: bulk reassignment (all or none), moving
tickets between queues, setting an agent away, handing tickets back; within their queues."""

from __future__ import annotations

from carecentre.models import Event, Ticket
from carecentre.states import Role
from tests.support.api import Api


def test_bulk_reassign_moves_all_or_nothing(api: Api) -> None:
    sam, _ = api.agent("sam@city.example")
    wes, _ = api.agent("wes@city.example", queues=["waste"])
    refs = [api.sms(f"Issue {n}", sender=f"+1613555010{n}") for n in range(3)]

    done = api.post("/supervisor/reassign", {"tickets": refs, "assignee": "sam@city.example"})
    assert done.status_code == 200, done.text
    assert [c["changed"] for c in done.json()["changed"]] == [{"assignee_id": sam}] * 3
    assert {api.ticket(r)["assignee"]["id"] for r in refs} == {sam}

    # Wes cannot see the general queue: nothing changes, and the answer says which tickets.
    before, counts = api.snapshot(refs[0]), api.counts(Ticket, Event)
    refused = api.post("/supervisor/reassign", {"tickets": refs, "assignee": wes})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "assignee"
    assert refs[0] in refused.json()["error"]["message"]
    assert api.snapshot(refs[0]) == before
    assert api.counts(Ticket, Event) == counts
    unknown = api.post(
        "/supervisor/reassign", {"tickets": [*refs, "CC-000-000-000"], "assignee": sam}
    )
    assert unknown.status_code == 422
    assert "CC-000-000-000" in unknown.json()["error"]["message"]

    # Moving to waste: Sam may see waste too (unrestricted), so he keeps them.
    moved = api.post("/supervisor/reassign", {"tickets": refs[:1], "queue": "waste"})
    assert moved.json()["changed"][0]["changed"]["queue"] == "waste"
    assert api.ticket(refs[0])["assignee"]["id"] == sam
    # Wes may take tickets in waste; back to the queue with null.
    assert (
        api.post("/supervisor/reassign", {"tickets": refs[:1], "assignee": wes}).status_code == 200
    )
    back = api.post("/supervisor/reassign", {"tickets": refs[:1], "assignee": None})
    assert back.json()["changed"][0]["changed"] == {"assignee_id": None}
    assert api.ticket(refs[0])["assignee"] is None


def test_moving_a_ticket_out_of_its_assignees_sight_returns_it_to_the_queue(api: Api) -> None:
    wes, _ = api.agent("wes@city.example", queues=["waste"])
    reference = api.sms("Missed bin", queue="waste")
    api.post("/supervisor/reassign", {"tickets": [reference], "assignee": wes})
    moved = api.post("/supervisor/reassign", {"tickets": [reference], "queue": "roads"})
    assert moved.json()["changed"][0]["changed"]["assignee_id"] is None
    assert api.ticket(reference)["assignee"] is None


def test_restricted_supervisors_act_only_within_their_queues(api: Api) -> None:
    _, boss = api.agent("boss@city.example", role=Role.SUPERVISOR, queues=["waste"])
    waste_agent, _ = api.agent("wes@city.example", queues=["waste"])
    anywhere, _ = api.agent("sam@city.example")
    general = api.sms("Question")
    assert api.post("/supervisor/reassign", {"tickets": [general]}, token=boss).status_code == 422
    away = api.request(
        "PUT", f"/agents/{waste_agent}/presence", token=boss, json={"status": "away"}
    )
    assert away.json() == {"agent_id": waste_agent, "status": "away", "changed": True}
    other = api.request("PUT", f"/agents/{anywhere}/presence", token=boss, json={"status": "away"})
    assert other.status_code == 404


def test_agents_set_their_own_presence_and_hand_back_their_tickets(api: Api) -> None:
    sam, token = api.agent("sam@city.example")
    refs = [api.sms(f"Issue {n}", sender=f"+1613555020{n}") for n in range(2)]
    api.post("/supervisor/reassign", {"tickets": refs, "assignee": sam})
    mine = api.request("PUT", f"/agents/{sam}/presence", token=token, json={"status": "available"})
    assert mine.status_code == 200
    other = api.request(
        "PUT", f"/agents/{api.admin_id}/presence", token=token, json={"status": "away"}
    )
    assert other.status_code == 403
    handed = api.post(f"/agents/{sam}/hand-back", {"presence": "away"}, token=token)
    assert sorted(handed.json()["references"]) == sorted(refs)
    assert all(api.ticket(r)["assignee"] is None for r in refs)
    assert api.post(f"/agents/{api.admin_id}/hand-back", {}, token=token).status_code == 403
