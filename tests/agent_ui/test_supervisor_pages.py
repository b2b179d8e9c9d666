"""The supervisors' pages without a browser: who may open them and how they are reached, the
wallboard and its fragment,
setting an agent away, bulk reassignment, routing rules in forms (a missing queue or a broken
file changes nothing), and reports with accessible charts."""

from __future__ import annotations

import re

from sqlmodel import select

from carecentre.models import Ticket
from carecentre.presence import Presence, PresenceStatus
from carecentre.services import Services
from carecentre.sessions_models import AgentPresence
from carecentre.states import Role
from carecentre.supervision_models import RoutingRule
from tests.agent_ui.conftest import Agent, Workspace

PAGES = ("/supervisor", "/supervisor/tickets", "/supervisor/rules", "/supervisor/reports")


def test_agents_are_refused_and_signed_out_browsers_sent_to_sign_in(sqlite_ws: Workspace) -> None:
    sqlite_ws.add_agent("agent@city.example")
    agent = sqlite_ws.sign_in("agent@city.example")
    for path in PAGES:
        assert sqlite_ws.get(path).status_code == 303
        refused = sqlite_ws.get(path, agent)
        assert refused.status_code == 403, path
        assert "Supervisors only" in refused.text
    assert sqlite_ws.get("/supervisor/board", agent).status_code == 403


def test_the_main_navigation_leads_supervisors_and_admins_to_supervision(
    sqlite_ws: Workspace,
) -> None:
    ws = sqlite_ws
    link = re.compile(r'<a href="/supervisor"(?: aria-current="(\w+)")?>Supervision</a>')

    def current(path: str, browser: Agent) -> str | None:
        """The link's aria-current on ``path`` (it must be there)."""
        found = link.search(ws.get(path, browser).text)
        assert found is not None, path
        return found.group(1)

    ws.add_agent("a@city.example")
    assert link.search(ws.get("/", ws.sign_in("a@city.example")).text) is None
    for email, role in (("s@city.example", Role.SUPERVISOR), ("x@city.example", Role.ADMIN)):
        ws.add_agent(email, role=role)
        browser = ws.sign_in(email)
        assert current("/", browser) is None
        # The wallboard is the section's page; the other pages are within the section.
        assert current("/supervisor", browser) == "page"
        assert current("/supervisor/reports", browser) == "true"


def test_the_wallboard_and_its_live_fragment(ws: Workspace) -> None:
    ws.add_agent("boss@city.example", role=Role.SUPERVISOR, name="Boss")
    sam = ws.add_agent("sam@city.example", name="Sam")
    boss = ws.sign_in("boss@city.example")
    ws.sms("Pothole on Elm", queue="roads")
    ws.email("Missed bin", queue="waste")
    page = ws.get("/supervisor", boss)
    assert page.status_code == 200
    assert 'data-page="wallboard"' in page.text
    assert re.search(r'id="total-waiting">2<', page.text)
    assert f'id="agent-{sam}"' in page.text
    large = ws.get("/supervisor?screen=large", boss)
    assert 'class="wallboard screen"' in large.text
    assert "<form" not in large.text.split('id="board"')[1]  # nothing to click on the wall
    fragment = ws.get("/supervisor/board", boss)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="total-waiting">2<' in fragment.text


def test_a_supervisor_sets_an_agent_away_and_hands_back_their_tickets(ws: Workspace) -> None:
    ws.add_agent("boss@city.example", role=Role.SUPERVISOR)
    sam = ws.add_agent("sam@city.example")
    boss = ws.sign_in("boss@city.example")
    reference = ws.sms("Pothole")

    async def assign(svc: Services) -> None:
        async with svc.db.write() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference))
            assert ticket is not None
            ticket.assignee_id = sam
        await Presence(svc.db, svc.bus).set(sam, PresenceStatus.AVAILABLE)

    ws.run(assign)
    done = ws.post(
        f"/supervisor/agents/{sam}/presence", boss, {"status": "away", "hand_back": "on"}
    )
    assert done.status_code == 303

    async def state(svc: Services) -> tuple[str, int | None]:
        async with svc.db.read() as session:
            row = await session.get_one(AgentPresence, sam)
            ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference))
            assert ticket is not None
            return row.status, ticket.assignee_id

    assert ws.run(state) == ("away", None)
    refused = ws.post("/supervisor/agents/999999/presence", boss, {"status": "away"})
    assert refused.status_code == 422
    assert "cannot be changed" in refused.text


def test_bulk_reassignment_is_all_or_nothing(ws: Workspace) -> None:
    ws.add_agent("boss@city.example", role=Role.SUPERVISOR)
    wes = ws.add_agent("wes@city.example", queues=["waste"])
    boss = ws.sign_in("boss@city.example")
    first, second = ws.sms("One", sender="+16135550101"), ws.sms("Two", sender="+16135550102")
    listing = ws.get("/supervisor/tickets", boss)
    assert f'value="{first}"' in listing.text
    refused = ws.post(
        "/supervisor/tickets", boss, {"tickets": [first, second], "assignee": str(wes)}
    )
    assert refused.status_code == 422
    assert "cannot see the queue" in refused.text
    moved = ws.post(
        "/supervisor/tickets",
        boss,
        {"tickets": [first, second], "assignee": str(wes), "queue": "waste"},
    )
    assert moved.status_code == 303

    async def where(svc: Services) -> set[tuple[int | None, int | None]]:
        async with svc.db.read() as session:
            rows = await session.scalars(select(Ticket))
            return {(t.assignee_id, t.queue_id) for t in rows}

    assert len(ws.run(where)) == 1
    assert next(iter(ws.run(where)))[0] == wes


def _rules(ws: Workspace) -> list[str]:
    async def names(svc: Services) -> list[str]:
        async with svc.db.read() as session:
            return list(await session.scalars(select(RoutingRule.name)))

    return ws.run(names)


def test_rules_in_forms_refuse_a_missing_queue_and_a_broken_file(ws: Workspace) -> None:
    ws.add_agent("boss@city.example", role=Role.SUPERVISOR)
    boss = ws.sign_in("boss@city.example")
    added = ws.post(
        "/supervisor/rules",
        boss,
        {"name": "Potholes", "enabled": "on", "words": "pothole, sinkhole", "channel": ["sms"],
         "queue": "roads", "priority": "high", "tags": "pothole"},
    )  # fmt: skip
    assert added.status_code == 303
    assert _rules(ws) == ["Potholes"]
    page = ws.get("/supervisor/rules", boss).text
    assert 'value="pothole, sinkhole"' in page

    missing = ws.post("/supervisor/rules", boss, {"name": "Lost", "queue": "nowhere"})
    assert missing.status_code == 422
    assert "then.queue" in missing.text
    assert "there is no queue &#39;nowhere&#39;" in missing.text
    broken = ws.post(
        "/supervisor/rules/import",
        boss,
        {"rules_file": '[[rules]]\nname = "Bins"\n[rules.then]\nqueue = "nowhere"\n'},
    )
    assert broken.status_code == 422
    assert "Rule 1 (Bins)" in broken.text
    assert _rules(ws) == ["Potholes"]


def test_the_report_page_draws_accessible_charts_with_their_numbers(ws: Workspace) -> None:
    ws.add_agent("boss@city.example", role=Role.SUPERVISOR)
    boss = ws.sign_in("boss@city.example")
    ws.sms("Pothole", queue="roads")
    page = ws.get("/supervisor/reports", boss)
    assert page.status_code == 200
    charts = re.findall(r'<svg class="chart" id="([\w-]+)" role="img"', page.text)
    assert len(charts) == 6
    for chart in charts:
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in page.text
        assert f'<title id="{chart}-title">' in page.text
    assert page.text.count('<div class="numbers" role="region"') == 6
    assert "/api/v1/supervisor/reports?format=csv" in page.text
    bad = ws.get("/supervisor/reports?from=yesterday", boss)
    assert bad.status_code == 422
    assert "from: write a date as YYYY-MM-DD" in bad.text
