"""The queue page: filters, search, urgency order, counts, and the live row and count pieces."""

from __future__ import annotations

import re

from carecentre.states import Role
from tests.agent_ui.conftest import Workspace


def _references(html: str) -> list[str]:
    return re.findall(r'<tr id="row-(CC-[\d-]+)"', html)


def test_filters_and_search_use_the_same_rules_as_the_api(ws: Workspace) -> None:
    ws.add_agent("ana@city.example", role=Role.SUPERVISOR, name="Ana")
    ana = ws.sign_in("ana@city.example")
    roads = ws.sms("Pothole on Elm Street", sender="+16135550101", queue="roads")
    waste = ws.email("Green bin", "Not collected at 12 Oak", name="Grace Okafor", queue="waste")
    assert ws.post(f"/tickets/{roads}/claim", ana).status_code == 303

    def shown(query: str) -> list[str]:
        page = ws.get("/" + query, ana)
        assert page.status_code == 200, page.text
        return _references(page.text)

    assert sorted(shown("")) == sorted([roads, waste])
    # Channels go by the names people use, in the filter and in the rows.
    page = ws.get("/", ana).text
    assert '<option value="sms">Text (SMS)</option>' in page
    assert '<option value="voice">Phone</option>' in page
    assert '<td data-label="Channel">Text (SMS)</td>' in page
    assert shown("?queue=roads") == [roads]
    assert shown("?channel=email") == [waste]
    assert shown("?assignee=me") == [roads]
    assert shown("?assignee=none") == [waste]
    assert sorted(shown("?assignee=any")) == sorted([roads, waste])
    assert shown("?q=okafor") == [waste]
    assert shown("?q=12+oak") == [waste]
    assert shown("?q=5550101") == [roads]
    assert shown(f"?q={roads}") == [roads]
    assert shown("?status=resolved") == []
    bad = ws.get("/?status=bogus", ana)
    assert bad.status_code == 422
    assert "status: use one or more of" in bad.text
    api = ws.get("/api/v1/tickets?assignee=me", ana).json()
    assert [item["reference"] for item in api["items"]] == [roads]


def test_the_queue_is_sorted_by_urgency(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    first = ws.sms("First", sender="+16135550101")
    second = ws.sms("Second", sender="+16135550102")
    high = ws.sms("Third", sender="+16135550103")
    assert ws.post(f"/tickets/{high}/update", ana, {"priority": "urgent"}).status_code == 303
    shown = _references(ws.get("/", ana).text)
    assert shown.index(first) < shown.index(second)


def test_a_row_is_given_only_when_it_matches_the_filters(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example", name="Ana")
    ana = ws.sign_in("ana@city.example")
    roads = ws.sms("Pothole", queue="roads")
    row = ws.get(f"/agent/rows/{roads}?status=new,open,pending", ana)
    assert row.status_code == 200
    assert row.text.startswith(f'<tr id="row-{roads}"')
    assert "Claim" in row.text
    assert ws.get(f"/agent/rows/{roads}?queue=waste", ana).status_code == 204
    assert ws.get(f"/agent/rows/{roads}?status=resolved", ana).status_code == 204
    assert ws.get("/agent/rows/CC-000-000-000", ana).status_code == 204
    ws.post(f"/tickets/{roads}/claim", ana)
    assert "Ana" in ws.get(f"/agent/rows/{roads}", ana).text


def test_counts_follow_the_queue(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    ws.sms("Pothole", sender="+16135550101", queue="roads")
    mine = ws.sms("Bin", sender="+16135550102", queue="waste")
    ws.post(f"/tickets/{mine}/claim", ana)
    counts = ws.get("/agent/counts", ana).text
    assert re.search(r"<strong>2</strong> open", counts)
    assert re.search(r"<strong>1</strong> unassigned", counts)
    assert re.search(r"<strong>1</strong> mine", counts)
    assert re.search(r"<strong>1</strong> Roads and sidewalks", counts)


def test_pages_carry_security_headers_and_no_inline_script(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    for path in ("/", "/login", "/account"):
        page = ws.get(path, ana if path != "/login" else None)
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text
        assert 'href="#main"' in page.text
