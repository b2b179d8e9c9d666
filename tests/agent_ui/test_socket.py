"""``/agent/ws``: the session and origin are checked, events resume after a sequence number
exactly once and in order, other queues' events never arrive, and who is viewing or replying
is shared live without being stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from carecentre import events
from carecentre.models import Event, Queue
from carecentre.services import Services
from carecentre.states import Role
from tests.agent_ui.conftest import BASE, Agent, Workspace


def _open(ws: Workspace, agent: Agent, origin: str = BASE) -> Any:
    return ws.client.websocket_connect("/agent/ws", headers={**agent.headers, "Origin": origin})


def _until_pong(socket: WebSocketTestSession) -> list[dict[str, Any]]:
    """Every frame before the answer to a ping: what the server had to say until now."""
    socket.send_json({"type": "ping"})
    frames = []
    while (frame := socket.receive_json())["type"] != "pong":
        frames.append(frame)
    return frames


def _events(socket: WebSocketTestSession, count: int) -> list[dict[str, Any]]:
    frames = [socket.receive_json() for _ in range(count)]
    assert all("seq" in f for f in frames), frames
    return frames


def _last_seq(ws: Workspace) -> int:
    async def go(svc: Services) -> int:
        async with svc.db.read() as session:
            return int(await session.scalar(select(func.max(Event.seq))) or 0)

    return ws.run(go)


@pytest.fixture
def agents(sqlite_ws: Workspace) -> tuple[Workspace, Agent, Agent]:
    ws = sqlite_ws
    ws.add_agent("ria@city.example", queues=["roads"], name="Ria Roads")
    ws.add_agent("sam@city.example", role=Role.SUPERVISOR, name="Sam Super")
    return ws, ws.sign_in("ria@city.example"), ws.sign_in("sam@city.example")


def test_missed_events_come_once_in_order_then_live_ones(agents: Any) -> None:
    ws, ria, _ = agents
    first = ws.sms("Pothole one", sender="+16135550101", queue="roads")
    after = _last_seq(ws)
    second = ws.sms("Pothole two", sender="+16135550102", queue="roads")
    with _open(ws, ria) as socket:
        socket.send_json({"type": "resume", "after": after})
        welcome = socket.receive_json()
        assert welcome["type"] == "welcome"
        assert welcome["data"]["name"] == "Ria Roads"
        missed = _events(socket, 2)
        assert [f["type"] for f in missed] == ["ticket.created", "message.created"]
        assert {f["data"]["reference"] for f in missed} == {second}
        assert set(missed[0]) == {"seq", "type", "at", "data"}
        seqs = [f["seq"] for f in missed]
        assert seqs == sorted(seqs)
        assert seqs[0] > after
        assert first not in str(missed)
        third = ws.sms("Pothole three", sender="+16135550103", queue="roads")
        live = _events(socket, 2)
        assert {f["data"]["reference"] for f in live} == {third}
        assert live[0]["seq"] > seqs[-1]
        assert _until_pong(socket) == []  # nothing twice


def test_other_queues_events_never_arrive(agents: Any) -> None:
    ws, ria, sam = agents
    with _open(ws, ria) as mine, _open(ws, sam) as everything:
        for socket in (mine, everything):
            socket.send_json({"type": "resume", "after": None})
            assert socket.receive_json()["type"] == "welcome"
        waste = ws.sms("Bin not collected", sender="+16135550199", queue="waste")
        roads = ws.sms("Pothole", sender="+16135550101", queue="roads")
        seen = _events(mine, 2)
        assert {f["data"]["reference"] for f in seen} == {roads}  # the waste ones came before
        assert waste not in str(_until_pong(mine))
        assert {f["data"]["reference"] for f in _events(everything, 4)} == {waste, roads}


def test_a_ticket_moved_out_of_sight_is_removed_and_nothing_more(agents: Any) -> None:
    ws, ria, sam = agents
    roads = ws.sms("Pothole", queue="roads")
    with _open(ws, ria) as socket:
        socket.send_json({"type": "resume", "after": _last_seq(ws)})
        assert socket.receive_json()["type"] == "welcome"
        moved = ws.post(f"/tickets/{roads}/update", sam, {"queue": "waste"})
        assert moved.status_code == 303, moved.text
        (frame,) = _events(socket, 1)
        assert frame["type"] == "ticket.removed"
        assert frame["data"] == {"reference": roads}


def test_the_origin_must_be_the_services_own(agents: Any) -> None:
    ws, ria, _ = agents
    for origin in ("https://evil.example", "http://carecentre.test", "null"):
        with pytest.raises(WebSocketDisconnect) as refused:
            with _open(ws, ria, origin=origin):
                pass
        assert refused.value.code == 1008
    with pytest.raises(WebSocketDisconnect):
        with ws.client.websocket_connect("/agent/ws", headers=ria.headers):  # no Origin at all
            pass


def test_frames_it_cannot_use_get_an_error_and_the_socket_stays_open(agents: Any) -> None:
    ws, ria, _ = agents
    with _open(ws, ria) as socket:
        socket.send_text("not json")
        assert socket.receive_json()["code"] == "resume_first"
        with pytest.raises(WebSocketDisconnect):
            socket.receive_json()
    with _open(ws, ria) as socket:
        socket.send_json({"type": "resume", "after": -5})
        assert socket.receive_json()["type"] == "error"
    with _open(ws, ria) as socket:
        socket.send_json({"type": "resume", "after": None})
        assert socket.receive_json()["type"] == "welcome"
        for bad in ("{", "[]", '{"type": "dance"}', "x" * 5000):
            socket.send_text(bad)
            frame = socket.receive_json()
            assert frame["type"] == "error"
        assert _until_pong(socket) == []


def test_who_is_viewing_and_replying_is_shared_live(agents: Any) -> None:
    ws, ria, sam = agents
    roads = ws.sms("Pothole", queue="roads")
    waste = ws.sms("Bin", sender="+16135550199", queue="waste")
    with _open(ws, ria) as ria_socket, _open(ws, sam) as sam_socket:
        for socket in (ria_socket, sam_socket):
            socket.send_json({"type": "resume", "after": None})
            assert socket.receive_json()["type"] == "welcome"
        ria_socket.send_json({"type": "viewing", "reference": roads})
        assert ria_socket.receive_json() == {
            "type": "activity",
            "data": {"reference": roads, "agents": []},
        }
        sam_socket.send_json({"type": "viewing", "reference": roads})
        assert sam_socket.receive_json()["data"]["agents"] == [
            {"id": ria.id, "name": "Ria Roads", "replying": False}
        ]
        assert ria_socket.receive_json()["data"]["agents"] == [
            {"id": sam.id, "name": "Sam Super", "replying": False}
        ]
        sam_socket.send_json({"type": "replying", "active": True})
        assert ria_socket.receive_json()["data"]["agents"][0]["replying"] is True
        # Not stored: no event for any of it.
        assert "activity" not in str(_until_pong(ria_socket))
        ria_socket.send_json({"type": "viewing", "reference": waste})  # another queue's ticket
        assert ria_socket.receive_json() == {
            "type": "error",
            "code": "not_found",
            "message": "no such ticket",
        }
    # Sam's page left with the socket: nobody is on the ticket any more.
    with _open(ws, ria) as socket:
        socket.send_json({"type": "resume", "after": None})
        socket.receive_json()
        socket.send_json({"type": "viewing", "reference": roads})
        assert socket.receive_json()["data"]["agents"] == []


def test_a_dashboard_that_falls_behind_catches_up_and_misses_nothing(agents: Any) -> None:
    ws, _, sam = agents
    # A burst of more events than a live socket may hold in memory: it reads the table instead.
    ws.services.bus.buffer = 3
    with _open(ws, sam) as socket, _open(ws, sam) as other:
        for each in (socket, other):
            each.send_json({"type": "resume", "after": None})
            assert each.receive_json()["type"] == "welcome"
            assert _until_pong(each) == []

        async def burst(svc: Services) -> list[int]:
            async with svc.db.write() as session:
                roads = await session.scalar(select(Queue.id).where(Queue.slug == "roads"))
                rows = [
                    await events.record(session, "test.burst", {"n": n}, queue_id=roads)
                    for n in range(10)
                ]
                await session.flush()
            svc.bus.notify()
            return [row.seq for row in rows if row.seq is not None]

        sent = ws.run(burst)
        for each in (socket, other):
            assert [f["seq"] for f in _events(each, 10)] == sent
            assert _until_pong(each) == []  # nothing twice
        later = ws.sms("Pothole after the burst", sender="+16135550177", queue="roads")
        for each in (socket, other):
            assert {f["data"]["reference"] for f in _events(each, 2)} == {later}
