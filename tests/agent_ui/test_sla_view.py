"""The SLA clock and the routing reason as the agents' pages show them: a badge on every queue
row (on track, at risk, breached, paused, none), the ticket page's targets and why the ticket
landed where it did; and nothing of it to an agent outside the ticket's queue."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from starlette.testclient import WebSocketTestSession

from carecentre.rules import parse_rule
from carecentre.rules_store import save_rule
from carecentre.services import Services
from carecentre.states import Role
from tests.agent_ui.conftest import BASE, Workspace
from tests.support.sla_clocks import age, sla_on


def _sla_on_roads(ws: Workspace) -> None:
    """Roads answers within an hour and resolves within four; other queues have no policy."""

    async def go(svc: Services) -> None:
        await sla_on(svc, "roads", first_response_minutes=60, resolution_minutes=240)

    ws.run(go)


def _age(ws: Workspace, reference: str, by: timedelta) -> None:
    async def go(svc: Services) -> None:
        await age(svc, reference, by)

    ws.run(go)


def _rule(ws: Workspace, rule: dict[str, object]) -> None:
    async def go(svc: Services) -> None:
        await svc.db.run_write(lambda s: save_rule(s, parse_rule(rule)).id)

    ws.run(go)


def _badges(html: str) -> dict[str, tuple[str, str]]:
    """Each ticket's badge: its state and the words it shows."""
    found = re.findall(
        r'data-sla-badge="([^"]+)" data-sla="(\w+)"><span class="visually-hidden">SLA: </span>'
        r'<span class="sla-label">([^<]+)</span>',
        html,
    )
    return {reference: (state, words) for reference, state, words in found}


def test_every_queue_row_shows_its_sla_state_in_words(ws: Workspace) -> None:
    _sla_on_roads(ws)
    ws.add_agent("ana@city.example", name="Ana")
    ana = ws.sign_in("ana@city.example")
    fresh = ws.sms("Pothole on Elm", sender="+16135550101", queue="roads")
    risky = ws.sms("Pothole on Oak", sender="+16135550102", queue="roads")
    late = ws.sms("Pothole on Main", sender="+16135550103", queue="roads")
    waiting = ws.sms("Pothole on King", sender="+16135550104", queue="roads")
    done = ws.sms("Pothole on Queen", sender="+16135550105", queue="roads")
    bins = ws.sms("Missed bin", sender="+16135550106", queue="waste")
    _age(ws, risky, timedelta(minutes=50))  # 80% of the hour is 48 minutes
    _age(ws, late, timedelta(minutes=61))
    # Breached while waiting on the resident, it stays breached; paused before, it is paused.
    assert ws.post(f"/tickets/{waiting}/update", ana, {"status": "pending"}).status_code == 303
    assert ws.post(f"/tickets/{done}/update", ana, {"status": "resolved"}).status_code == 303

    page = ws.get("/?status=", ana)
    assert page.status_code == 200, page.text
    assert '<th scope="col">SLA</th>' in page.text
    assert _badges(page.text) == {
        fresh: ("on_track", "On track"),
        risky: ("at_risk", "At risk"),
        late: ("breached", "Breached"),
        waiting: ("paused", "Paused, waiting on resident"),
        done: ("met", "Met"),
        bins: ("none", "No SLA"),
    }
    # Beside the badge, the due time: the first response's, in the City's time.
    row = re.search(rf'<tr id="row-{late}".*?</tr>', page.text, re.S)
    assert row is not None
    assert re.search(r'<td data-label="Due"><time datetime="[^"]+">\d{4}-', row.group(0))

    # The live script's piece of one row carries the same badge.
    piece = ws.get(f"/agent/rows/{late}", ana)
    assert piece.status_code == 200
    assert _badges(piece.text) == {late: ("breached", "Breached")}


def test_a_ticket_breached_before_it_was_paused_stays_breached(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _sla_on_roads(ws)
    ws.add_agent("ana@city.example", name="Ana")
    ana = ws.sign_in("ana@city.example")
    reference = ws.sms("Pothole on Elm", queue="roads")
    _age(ws, reference, timedelta(hours=2))
    assert ws.post(f"/tickets/{reference}/update", ana, {"status": "pending"}).status_code == 303
    assert _badges(ws.get("/", ana).text)[reference] == ("breached", "Breached")
    page = ws.get(f"/tickets/{reference}", ana).text
    assert "A target is overdue." in page
    assert "<dt>Paused</dt>" in page
    # Resolved at last: the first response's target stays missed.
    assert ws.post(f"/tickets/{reference}/update", ana, {"status": "resolved"}).status_code == 303
    piece = ws.get(f"/tickets/{reference}/sla", ana).text
    assert _badges(piece) == {reference: ("missed", "Missed")}
    assert re.search(r"<dt>First response</dt>\s*<dd>Missed<br>", piece)


def test_the_ticket_page_shows_the_clock_and_why_the_ticket_is_here(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _sla_on_roads(ws)
    _rule(ws, {"name": "Potholes", "when": {"words": ["pothole"]}, "then": {"queue": "roads"}})
    ws.add_agent("ana@city.example", name="Ana")
    ana = ws.sign_in("ana@city.example")
    pothole = ws.sms("A pothole on Elm", sender="+16135550101")
    plain = ws.email("A question", "About my taxes")
    _age(ws, pothole, timedelta(minutes=50))

    page = ws.get(f"/tickets/{pothole}", ana)
    assert page.status_code == 200, page.text
    assert '<dt>Routed by</dt><dd id="routed-by">Potholes</dd>' in page.text
    assert _badges(page.text) == {pothole: ("at_risk", "At risk")}
    assert "80% of a target used." in page.text
    first, resolution = re.findall(r"<dt>(First response|Resolution)</dt>\s*<dd>(.*?)</dd>",
                                   page.text, re.S)  # fmt: skip
    assert first[1].startswith("At risk<br>Target 1 h of business time, due <time datetime=")
    assert resolution[1].startswith("On track<br>Target 4 h of business time, due")

    other = ws.get(f"/tickets/{plain}", ana).text
    assert '<dd id="routed-by">Default queue</dd>' in other
    assert _badges(other) == {plain: ("none", "No SLA")}
    assert "No SLA policy covers this ticket." in other

    # Waiting on the resident: the clock is shown paused, from when it stopped.
    assert ws.post(f"/tickets/{pothole}/update", ana, {"status": "pending"}).status_code == 303
    piece = ws.get(f"/tickets/{pothole}/sla", ana)
    assert piece.status_code == 200
    assert _badges(piece.text) == {pothole: ("paused", "Paused, waiting on resident")}
    assert "<dt>Paused</dt><dd>Since <time" in piece.text
    assert "Paused, waiting on resident<br>Target 1 h" in piece.text
    # It carries the ticket's next due time, for the details list the page keeps beside it.
    shown_due = re.search(r'<dd id="detail-due">([^<]*)</dd>', page.text)
    assert shown_due is not None
    assert re.search(r'<div id="sla-details" class="sla-details" data-due="[-\d: —]+">', piece.text)

    # Resolved within the hour: every target met, though no written reply was sent.
    assert ws.post(f"/tickets/{pothole}/update", ana, {"status": "resolved"}).status_code == 303
    resolved = ws.get(f"/tickets/{pothole}/sla", ana).text
    assert _badges(resolved) == {pothole: ("met", "Met")}
    assert "Every target met." in resolved


def test_an_agent_outside_the_queue_sees_nothing_of_it(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _sla_on_roads(ws)
    _rule(ws, {"name": "Potholes", "when": {"words": ["pothole"]}, "then": {"queue": "roads"}})
    ws.add_agent("wes@city.example", name="Wes", queues=["waste"])
    wes = ws.sign_in("wes@city.example")
    pothole = ws.sms("A pothole on Elm", sender="+16135550101")
    _age(ws, pothole, timedelta(hours=2))

    queue = ws.get("/?status=", wes)
    assert queue.status_code == 200
    assert pothole not in queue.text
    assert _badges(queue.text) == {}
    assert ws.get(f"/agent/rows/{pothole}", wes).status_code == 204
    page = ws.get(f"/tickets/{pothole}", wes)
    assert page.status_code == 404
    assert "Potholes" not in page.text
    assert "data-sla" not in page.text
    piece = ws.get(f"/tickets/{pothole}/sla", wes)
    assert piece.status_code == 404
    assert piece.text == ""
    # Signed out, the piece is refused outright.
    assert ws.get(f"/tickets/{pothole}/sla").status_code == 401


def test_the_supervisor_sees_the_same_state(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _sla_on_roads(ws)
    ws.add_agent("bo@city.example", role=Role.SUPERVISOR, name="Bo")
    bo = ws.sign_in("bo@city.example")
    reference = ws.sms("Pothole on Elm", queue="roads")
    _age(ws, reference, timedelta(minutes=61))
    assert _badges(ws.get("/", bo).text) == {reference: ("breached", "Breached")}
    board = ws.get("/supervisor/board", bo).text
    assert re.search(r'id="total-breached"[^>]*>1<', board), board


def test_the_breach_reaches_only_the_sockets_of_those_who_see_the_queue(
    sqlite_ws: Workspace,
) -> None:
    ws = sqlite_ws
    _sla_on_roads(ws)
    ws.add_agent("ria@city.example", queues=["roads"], name="Ria")
    ws.add_agent("wes@city.example", queues=["waste"], name="Wes")
    ria, wes = ws.sign_in("ria@city.example"), ws.sign_in("wes@city.example")
    reference = ws.sms("Pothole on Elm", queue="roads")

    async def overdue(svc: Services) -> int:
        """Two hours pass for the ticket; then the SLA watcher takes its look."""
        await age(svc, reference, timedelta(hours=2))
        assert svc.supervision is not None
        return await svc.supervision.raise_alerts()

    def frames(socket: WebSocketTestSession) -> list[dict[str, Any]]:
        socket.send_json({"type": "ping"})
        found = []
        while (frame := socket.receive_json())["type"] != "pong":
            found.append(frame)
        return found

    connect = ws.client.websocket_connect
    with (
        connect("/agent/ws", headers={**ria.headers, "Origin": BASE}) as roads,
        connect("/agent/ws", headers={**wes.headers, "Origin": BASE}) as waste,
    ):
        for socket in (roads, waste):
            socket.send_json({"type": "resume", "after": None})
            assert socket.receive_json()["type"] == "welcome"
            frames(socket)  # what came before
        ws.run(overdue)
        breach = roads.receive_json()
        while breach["type"] != "sla.breached":
            breach = roads.receive_json()
        assert breach["data"]["reference"] == reference
        assert breach["data"]["target"] == "first_response"
        assert not [f for f in frames(waste) if f["type"].startswith("sla.")]
