"""An agent limited to some queues sees nothing of the others: tickets, contacts, attachments,
lists, queue counts and stats. What they cannot see answers exactly like what does not exist."""

from __future__ import annotations

from dataclasses import dataclass

from carecentre.contract import InboundAttachment
from tests.support.api import Api


@dataclass
class World:
    roads: str  # a ticket the roads agent may see
    waste: str  # one they may not
    token: str  # the roads agent's
    agent_id: int
    roads_contact: int
    waste_contact: int
    waste_attachment: int
    roads_attachment: int


def _world(api: Api) -> World:
    photo = (InboundAttachment("photo.jpg", "image/jpeg", data=b"\xff\xd8 photo"),)
    roads = api.email("Pothole on Main", sender="a@example.org", queue="roads", attachments=photo)
    waste = api.email(
        "Missed green bin on Elm",
        sender="b@example.org",
        name="Bea Waste",
        queue="waste",
        attachments=(InboundAttachment("bin.jpg", "image/jpeg", data=b"\xff\xd8 bin"),),
    )
    agent_id, token = api.agent("rita@city.example", queues=["roads"])
    roads_ticket, waste_ticket = api.ticket(roads), api.ticket(waste)
    return World(
        roads=roads,
        waste=waste,
        token=token,
        agent_id=agent_id,
        roads_contact=roads_ticket["contact"]["id"],
        waste_contact=waste_ticket["contact"]["id"],
        roads_attachment=roads_ticket["messages"][0]["attachments"][0]["id"],
        waste_attachment=waste_ticket["messages"][0]["attachments"][0]["id"],
    )


def test_a_limited_agent_lists_only_their_queues(api: Api) -> None:
    w = _world(api)

    assert api.references(token=w.token) == [w.roads]
    assert api.references(token=w.token, q="green bin") == []
    assert api.references(token=w.token, q=w.waste) == []
    assert api.references(token=w.token, queue="waste") == []
    assert api.references(token=w.token, channel="email", status="new") == [w.roads]
    assert sorted(api.references()) == sorted([w.roads, w.waste])  # the admin sees both


def test_another_queues_ticket_is_404_like_a_missing_one(api: Api) -> None:
    w = _world(api)
    missing = "CC-000-000-000"
    before = api.snapshot(w.waste)

    for reference in (w.waste, missing):
        calls = [
            api.get(f"/tickets/{reference}", token=w.token),
            api.post(f"/tickets/{reference}/replies", {"body": "hi"}, token=w.token),
            api.post(f"/tickets/{reference}/notes", {"body": "hi"}, token=w.token),
            api.patch(f"/tickets/{reference}", {"status": "closed"}, token=w.token),
            api.patch(f"/tickets/{reference}", {"assignee": "me"}, token=w.token),
        ]
        for response in calls:
            assert response.status_code == 404, response.text
            assert response.json()["error"] == {
                "code": "not_found",
                "message": f"no ticket {reference}",
            }

    assert api.snapshot(w.waste) == before
    assert api.get(f"/tickets/{w.roads}", token=w.token).status_code == 200


def test_another_queues_contact_and_attachment_are_404(api: Api) -> None:
    w = _world(api)

    contact = api.get(f"/contacts/{w.waste_contact}", token=w.token)
    assert contact.status_code == 404
    assert "Bea" not in contact.text
    attachment = api.get(f"/attachments/{w.waste_attachment}", token=w.token)
    assert attachment.status_code == 404
    assert b"bin" not in attachment.content

    assert api.get(f"/contacts/{w.roads_contact}", token=w.token).status_code == 200
    own = api.get(f"/attachments/{w.roads_attachment}", token=w.token)
    assert own.status_code == 200
    assert own.content == b"\xff\xd8 photo"
    # The admin sees both.
    assert api.get(f"/contacts/{w.waste_contact}").status_code == 200
    assert api.get(f"/attachments/{w.waste_attachment}").content == b"\xff\xd8 bin"


def test_a_shared_contact_shows_only_the_tickets_of_the_agents_queues(api: Api) -> None:
    w = _world(api)
    # The same resident writes about roads too: a second ticket, another queue.
    other = api.email("And the sidewalk", sender="b@example.org", queue="roads")

    contact = api.get(f"/contacts/{w.waste_contact}", token=w.token).json()

    assert [t["reference"] for t in contact["tickets"]] == [other]
    everything = api.get(f"/contacts/{w.waste_contact}").json()
    assert [t["reference"] for t in everything["tickets"]] == [other, w.waste]


def test_a_limited_agent_sees_only_their_queues_and_stats(api: Api) -> None:
    w = _world(api)
    api.sms("Another pothole", queue="roads")

    queues = api.get("/queues", token=w.token).json()["items"]
    assert [(q["slug"], q["open_tickets"]) for q in queues] == [("roads", 2)]

    stats = api.get("/stats", token=w.token).json()
    assert stats["open_by_queue"] == {"roads": 2}
    assert stats["open_by_status"] == {"new": 2}
    assert stats["open_by_channel"] == {"email": 1, "sms": 1}
    assert stats["created_today"] == 2
    admin = api.get("/stats").json()
    assert admin["open_by_queue"] == {"roads": 2, "waste": 1}
    assert admin["created_today"] == 3


def test_a_limited_agent_cannot_move_a_ticket_out_of_sight(api: Api) -> None:
    w = _world(api)
    before = api.snapshot(w.roads)

    response = api.patch(f"/tickets/{w.roads}", {"queue": "waste"}, token=w.token)

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "queue"
    assert "waste" in response.json()["error"]["message"]
    assert api.snapshot(w.roads) == before


def test_a_limited_agent_works_their_own_tickets(api: Api) -> None:
    w = _world(api)

    reply = api.post(f"/tickets/{w.roads}/replies", {"body": "Crew on the way"}, token=w.token)
    assert reply.status_code == 202
    assert reply.json()["message"]["author"]["id"] == w.agent_id
    note = api.post(f"/tickets/{w.roads}/notes", {"body": "Crew 4"}, token=w.token)
    assert note.status_code == 201
    patched = api.patch(
        f"/tickets/{w.roads}", {"assignee": w.agent_id, "priority": "high"}, token=w.token
    )
    assert patched.status_code == 200
    assert api.references(token=w.token, assignee="me") == [w.roads]


def test_an_agent_of_several_queues_sees_each(api: Api) -> None:
    w = _world(api)
    api.sms("Parking ticket", queue="parking")
    _agent_id, token = api.agent("sam@city.example", queues=["roads", "waste"])

    assert sorted(api.references(token=token)) == sorted([w.roads, w.waste])
    slugs = [q["slug"] for q in api.get("/queues", token=token).json()["items"]]
    assert slugs == ["roads", "waste"]  # by name: "Roads and sidewalks", "Waste and recycling"
