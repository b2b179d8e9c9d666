"""Admin pages: agents, queues, canned responses and API tokens; bad input is refused with the
reason, what was typed is kept, and nothing is stored."""

from __future__ import annotations

import re

from carecentre.states import Role
from tests.agent_ui.conftest import Workspace


def test_agents_are_invited_changed_and_deactivated(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("admin@city.example", role=Role.ADMIN, name="Ada Admin")
    admin = ws.sign_in("admin@city.example")
    with_password = ws.post(
        "/admin/agents",
        admin,
        {"email": "ben@city.example", "name": "Ben", "role": "supervisor", "password": "x" * 12},
    )
    assert with_password.status_code == 303
    page = ws.get("/admin/agents", admin).text
    assert "ben@city.example" in page
    duplicate = ws.post(
        "/admin/agents", admin, {"email": "ben@city.example", "name": "Ben Again", "role": "agent"}
    )
    assert duplicate.status_code == 422
    assert "an agent ben@city.example already exists" in duplicate.text
    assert 'value="Ben Again"' in duplicate.text
    ben_id = ws.agent_id("ben@city.example")
    narrowed = ws.post(
        f"/admin/agents/{ben_id}",
        admin,
        {"name": "Ben B", "role": "agent", "queues": "roads", "active": "on", "action": "save"},
    )
    assert narrowed.status_code == 303
    page = ws.get("/admin/agents", admin).text
    assert re.search(r"Ben B</td>\s*<td[^>]*>ben@city.example</td>\s*<td[^>]*>agent</td>", page)
    self_demotion = ws.post(
        f"/admin/agents/{admin.id}", admin, {"name": "Ada", "role": "agent", "action": "save"}
    )
    assert self_demotion.status_code == 422
    assert "your own admin role" in self_demotion.text


def test_queues_canned_responses_and_tokens(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("admin@city.example", role=Role.ADMIN, name="Ada Admin")
    admin = ws.sign_in("admin@city.example")
    assert ws.post("/admin/queues", admin, {"slug": "parks", "name": "Parks"}).status_code == 303
    clash = ws.post("/admin/queues", admin, {"slug": "parks", "name": "Parks again"})
    assert clash.status_code == 422
    assert 'value="Parks again"' in clash.text
    assert "Parks" in ws.get("/admin/queues", admin).text

    typo = ws.post("/admin/canned", admin, {"title": "Hi", "body": "Hello {{ nmae }}"})
    assert typo.status_code == 422
    assert "unknown variable &#39;nmae&#39;" in typo.text
    assert "Hello {{ nmae }}" in typo.text
    assert "No canned responses yet." in ws.get("/admin/canned", admin).text

    created = ws.post("/admin/tokens", admin, {"agent_id": str(admin.id), "name": "wallboard"})
    assert created.status_code == 200
    token = re.search(r'class="secret">(cct_[\w-]+)<', created.text)
    assert token is not None
    listing = ws.get("/admin/tokens", admin).text
    assert token.group(1) not in listing  # shown once
    assert "wallboard" in listing
    api = ws.client.get("/api/v1/queues", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert api.status_code == 200
    token_id = re.search(r"/admin/tokens/(\d+)/revoke", listing)
    assert token_id is not None
    ws.post(f"/admin/tokens/{token_id.group(1)}/revoke", admin)
    api = ws.client.get("/api/v1/queues", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert api.status_code == 401
