"""Who may do what, for every page, fragment, form, API route, attachment and the live socket:
a signed-out browser, an agent limited to another queue, a forged CSRF token and a deactivated
agent are all refused, and a refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import SQLModel, col, select
from starlette.websockets import WebSocketDisconnect

from carecentre.contract import InboundAttachment
from carecentre.models import Agent, AgentQueue, ApiToken, Attachment, Event, Message, Queue, Ticket
from carecentre.services import Services
from carecentre.sessions_models import AgentSession
from carecentre.states import Role
from carecentre.workspace_models import CannedResponse, TicketTag
from tests.agent_ui.conftest import BASE, Workspace

TABLES: tuple[type[SQLModel], ...] = (
    Message,
    Event,
    AgentSession,
    Agent,
    AgentQueue,
    Queue,
    CannedResponse,
    ApiToken,
    TicketTag,
)


class World:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        ws.add_agent("admin@city.example", role=Role.ADMIN, name="Ada Admin")
        ws.add_agent("ria@city.example", queues=["roads"], name="Ria Roads")
        ws.add_agent("wes@city.example", queues=["waste"], name="Wes Waste")
        self.roads = ws.email(
            "Pothole on Elm",
            "There is a hole",
            sender="grace@example.org",
            queue="roads",
            attachments=(InboundAttachment("hole.jpg", "image/jpeg", b"\xff\xd8jpeg"),),
        )
        self.waste = ws.sms("Bin not collected", sender="+16135550199", queue="waste")
        self.admin = ws.sign_in("admin@city.example")
        self.ria = ws.sign_in("ria@city.example")
        self.wes = ws.sign_in("wes@city.example")
        self.attachment = self.scalar(select(Attachment.id))
        self.admin_id = self.admin.id
        self.token_id = self.make_token()
        self.canned_id = self.make_canned()

    def scalar(self, query: Any) -> Any:
        async def go(svc: Services) -> Any:
            async with svc.db.read() as session:
                return await session.scalar(query)

        return self.ws.run(go)

    def make_token(self) -> int:
        response = self.ws.post(
            "/admin/tokens", self.admin, {"agent_id": str(self.admin.id), "name": "wallboard"}
        )
        assert response.status_code == 200, response.text
        return int(self.scalar(select(ApiToken.id)))

    def make_canned(self) -> int:
        response = self.ws.post(
            "/admin/canned", self.admin, {"title": "Thanks", "body": "Thank you"}
        )
        assert response.status_code == 303, response.text
        return int(self.scalar(select(CannedResponse.id)))

    def snapshot(self) -> dict[str, Any]:
        async def go(svc: Services) -> dict[str, Any]:
            async with svc.db.read() as session:
                counts = {
                    t.__name__: await session.scalar(select(func.count()).select_from(t))
                    for t in TABLES
                }
                tickets = [
                    (t.reference, t.status, t.assignee_id, t.priority, t.queue_id)
                    for t in await session.scalars(select(Ticket).order_by(col(Ticket.id)))
                ]
                agents = [
                    (a.name, a.role, a.active, a.password_hash)
                    for a in await session.scalars(select(Agent).order_by(col(Agent.id)))
                ]
                return {"counts": counts, "tickets": tickets, "agents": agents}

        return self.ws.run(go)

    def pages(self) -> list[str]:
        r = self.roads
        return [
            "/",
            f"/tickets/{r}",
            "/account",
            "/admin/agents",
            "/admin/queues",
            "/admin/canned",
            "/admin/tokens",
        ]

    def fragments(self) -> list[str]:
        message_id = self.scalar(select(Message.id).order_by(col(Message.id)))
        return [
            f"/agent/rows/{self.roads}",
            "/agent/counts",
            f"/tickets/{self.roads}/messages/{message_id}",
        ]

    def forms(self) -> list[tuple[str, dict[str, str]]]:
        r = self.roads
        return [
            (f"/tickets/{r}/reply", {"body": "Hello", "to": "email|grace@example.org"}),
            (f"/tickets/{r}/note", {"note": "A note"}),
            (f"/tickets/{r}/claim", {}),
            (f"/tickets/{r}/release", {}),
            (f"/tickets/{r}/assign", {"agent_id": str(self.admin_id)}),
            (f"/tickets/{r}/update", {"status": "pending", "priority": "high"}),
            (f"/tickets/{r}/tags", {"tags": "forged"}),
            ("/account/status", {"status": "away"}),
            (
                "/account/password",
                {
                    "current_password": "a-long-enough-password",
                    "new_password": "another-long-password",
                    "confirm_password": "another-long-password",
                },
            ),
            ("/admin/agents", {"email": "new@city.example", "name": "New", "role": "admin"}),
            (
                f"/admin/agents/{self.ria.id}",
                {"name": "Ria", "role": "admin", "active": "on", "action": "save"},
            ),
            ("/admin/queues", {"slug": "parks", "name": "Parks"}),
            ("/admin/queues/1", {"name": "Renamed", "active": "off"}),
            ("/admin/canned", {"title": "New", "body": "New body"}),
            (f"/admin/canned/{self.canned_id}", {"action": "delete"}),
            ("/admin/tokens", {"agent_id": str(self.admin_id), "name": "another"}),
            (f"/admin/tokens/{self.token_id}/revoke", {}),
            ("/logout", {}),
        ]

    def api_calls(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        r = self.roads
        return [
            ("POST", f"/api/v1/tickets/{r}/replies", {"body": "Hello"}),
            ("POST", f"/api/v1/tickets/{r}/notes", {"body": "A note"}),
            ("POST", f"/api/v1/tickets/{r}/claim", None),
            ("PATCH", f"/api/v1/tickets/{r}", {"status": "pending"}),
        ]


@pytest.fixture
def world(ws: Workspace) -> World:
    return World(ws)


def test_signed_out_browsers_get_nothing(world: World) -> None:
    ws = world.ws
    before = world.snapshot()
    for path in world.pages():
        response = ws.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    for path in world.fragments():
        assert ws.get(path).status_code == 401, path
    for path, data in world.forms():
        if path == "/logout":
            continue
        response = ws.post(path, None, data)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    for method, path, body in world.api_calls():
        assert ws.client.request(method, path, json=body).status_code == 401, path
    assert ws.get("/api/v1/tickets").status_code == 401
    assert ws.get(f"/api/v1/attachments/{world.attachment}").status_code == 401
    with pytest.raises(WebSocketDisconnect) as refused:  # a browser sees the handshake fail 403
        with ws.client.websocket_connect("/agent/ws", headers={"Origin": BASE}):
            pass
    assert refused.value.code == 1008
    assert world.snapshot() == before


def test_an_agent_of_another_queue_sees_nothing_of_it(world: World) -> None:
    ws, wes = world.ws, world.wes
    before = world.snapshot()
    assert ws.get(f"/tickets/{world.roads}", wes).status_code == 404
    page = ws.get("/", wes)
    assert world.waste in page.text
    assert world.roads not in page.text
    filtered = ws.get("/?queue=roads&status=", wes)
    assert filtered.status_code == 200
    assert world.roads not in filtered.text
    assert ws.get(f"/agent/rows/{world.roads}", wes).status_code == 204
    message_id = world.fragments()[2].rsplit("/", 1)[1]
    assert ws.get(f"/tickets/{world.waste}/messages/{message_id}", wes).status_code == 404
    assert ws.get(f"/tickets/{world.roads}/messages/{message_id}", wes).status_code == 404
    assert "roads" not in ws.get("/agent/counts", wes).text
    for path, data in world.forms()[:7]:
        response = ws.post(path, wes, data)
        assert response.status_code == 404, path
    for method, path, body in world.api_calls():
        response = ws.client.request(
            method, path, json=body, headers={**wes.headers, "X-CSRF-Token": wes.csrf}
        )
        assert response.status_code == 404, (path, response.text)
    assert ws.get(f"/api/v1/tickets/{world.roads}", wes).status_code == 404
    assert world.roads not in ws.get("/api/v1/tickets", wes).text
    assert ws.get(f"/api/v1/attachments/{world.attachment}", wes).status_code == 404
    assert world.snapshot() == before
    # The agent of the queue sees it all, through the session cookie alone (GET needs no token).
    ria = world.ria
    assert ws.get(f"/tickets/{world.roads}", ria).status_code == 200
    download = ws.get(f"/api/v1/attachments/{world.attachment}", ria)
    assert download.status_code == 200
    assert download.content == b"\xff\xd8jpeg"


def test_agents_and_supervisors_are_kept_out_of_admin_pages(world: World) -> None:
    ws = world.ws
    before = world.snapshot()
    for path in world.pages()[3:]:
        assert ws.get(path, world.ria).status_code == 403, path
    for path, data in world.forms()[9:-1]:
        assert ws.post(path, world.ria, data).status_code == 403, path
    assert world.snapshot() == before


@pytest.mark.parametrize("csrf", [None, "forged", "0" * 64])
def test_a_missing_or_forged_csrf_token_changes_nothing(world: World, csrf: str | None) -> None:
    ws, admin = world.ws, world.admin
    before = world.snapshot()
    for path, data in world.forms():
        response = ws.post(path, admin, data, csrf=csrf)
        assert response.status_code == 403, path
        assert "nothing was changed" in response.text
    # Another agent's token is no better than a made-up one.
    for path, data in world.forms():
        assert ws.post(path, admin, data, csrf=world.ria.csrf).status_code == 403, path
    for method, path, body in world.api_calls():
        headers = dict(admin.headers)
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        response = ws.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "csrf"
    assert world.snapshot() == before
    assert ws.get("/", admin).status_code == 200  # still signed in: the sign-out was refused too


def test_the_api_with_the_session_cookie_and_its_csrf_header_works(world: World) -> None:
    ws, ria = world.ws, world.ria
    headers = {**ria.headers, "X-CSRF-Token": ria.csrf}
    response = ws.client.post(
        f"/api/v1/tickets/{world.roads}/notes", json={"body": "Checked"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["message"]["author"]["name"] == "Ria Roads"


def test_bearer_requests_need_no_csrf_token_and_ignore_the_cookie(world: World) -> None:
    ws = world.ws
    response = ws.post("/admin/tokens", world.admin, {"agent_id": str(world.ria.id), "name": "bot"})
    token = response.text.split('class="secret">')[1].split("<")[0]
    api = ws.client.post(
        f"/api/v1/tickets/{world.roads}/notes",
        json={"body": "From a script"},
        headers={"Authorization": f"Bearer {token}", **world.wes.headers},
    )
    assert api.status_code == 201, api.text
    assert api.json()["message"]["author"]["name"] == "Ria Roads"


def test_a_deactivated_agent_is_stopped_at_once(world: World) -> None:
    ws, ria = world.ws, world.ria
    with ws.client.websocket_connect(
        "/agent/ws", headers={**ria.headers, "Origin": BASE}
    ) as socket:
        socket.send_json({"type": "resume", "after": None})
        assert socket.receive_json()["type"] == "welcome"
        response = ws.post(
            f"/admin/agents/{ria.id}",
            world.admin,
            {"name": "Ria Roads", "role": "agent", "queues": "roads", "action": "save"},
        )
        assert response.status_code == 303, response.text
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4401
    assert ws.get("/", ria).status_code == 303
    assert ws.get(f"/tickets/{world.roads}", ria).status_code == 303
    assert ws.get("/agent/counts", ria).status_code == 401
    assert ws.get(f"/api/v1/tickets/{world.roads}", ria).status_code == 401
    assert ws.get(f"/api/v1/attachments/{world.attachment}", ria).status_code == 401
    assert ws.post(f"/tickets/{world.roads}/note", ria, {"note": "x"}).status_code == 303
    with pytest.raises(WebSocketDisconnect):
        with ws.client.websocket_connect("/agent/ws", headers={**ria.headers, "Origin": BASE}):
            pass


def test_deactivation_directly_in_the_database_counts_on_the_next_request(world: World) -> None:
    ws, ria = world.ws, world.ria

    async def deactivate(svc: Services) -> None:
        async with svc.db.write() as session:
            await session.execute(update(Agent).where(col(Agent.id) == ria.id).values(active=False))

    ws.run(deactivate)
    assert ws.get("/", ria).status_code == 303
    assert ws.get(f"/api/v1/tickets/{world.roads}", ria).status_code == 401
