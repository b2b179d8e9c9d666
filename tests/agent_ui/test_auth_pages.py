"""Signing in and out, the account page, and set-password links, through the real forms."""

from __future__ import annotations

import re

from carecentre.states import Role
from tests.agent_ui.conftest import PASSWORD, Workspace


def test_sign_in_sets_a_hardened_cookie_and_returns_to_the_page_asked_for(
    sqlite_ws: Workspace,
) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    page = ws.get("/tickets/CC-123-456-785")
    assert page.headers["location"] == "/login?next=/tickets/CC-123-456-785"
    response = ws.try_sign_in("ana@city.example", next="/tickets/CC-123-456-785")
    assert response.status_code == 303
    assert response.headers["location"] == "/tickets/CC-123-456-785"
    cookie = next(h for h in response.headers.get_list("set-cookie") if "cc_session" in h)
    assert cookie.startswith("__Host-cc_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag.lower() in cookie.lower(), cookie


def test_an_offsite_next_is_ignored(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = ws.try_sign_in("ana@city.example", next=target)
        assert response.headers["location"] == "/", target


def test_a_wrong_password_and_an_unknown_email_read_the_same(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    wrong = ws.try_sign_in("ana@city.example", "not-the-password")
    unknown = ws.try_sign_in("nobody@city.example", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    message = "That email and password do not match an active account."
    assert message in wrong.text
    assert message in unknown.text
    assert 'value="ana@city.example"' in wrong.text  # what was typed is kept
    assert "set-cookie" not in {
        k.lower() for k in wrong.headers if "cc_session" in wrong.headers[k]
    }


def test_too_many_attempts_are_refused_with_a_clear_message(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    for _ in range(5):
        assert ws.try_sign_in("ana@city.example", "wrong-password-x").status_code == 401
    locked = ws.try_sign_in("ana@city.example", PASSWORD)
    assert locked.status_code == 429
    assert "Too many sign-in attempts. Try again in 15 minutes" in locked.text


def test_the_sign_in_form_needs_its_own_token(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ws.login_form()
    forged = ws.client.post(
        "/login",
        data={"email": "ana@city.example", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "expired" in forged.text


def test_sign_out_is_a_post_and_ends_the_session(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    assert ws.get("/logout", ana).status_code == 405
    response = ws.post("/logout", ana)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?notice=signed-out"
    assert ws.get("/", ana).status_code == 303
    ended = ws.get("/login", ana)
    assert "Your session has ended" in ended.text


def test_changing_the_password_ends_the_other_sign_ins(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    here, there = ws.sign_in("ana@city.example"), ws.sign_in("ana@city.example")
    form = {
        "current_password": PASSWORD,
        "new_password": "a-brand-new-password",
        "confirm_password": "a-different-password",
    }
    mismatch = ws.post("/account/password", here, form)
    assert mismatch.status_code == 422
    assert "differ" in mismatch.text
    form["confirm_password"] = form["new_password"]
    response = ws.post("/account/password", here, form)
    assert response.status_code == 303
    assert ws.get("/", here).status_code == 200
    assert ws.get("/", there).status_code == 303
    ws.sign_in("ana@city.example", "a-brand-new-password")


def test_presence_is_set_on_sign_in_and_by_the_agent(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    page = ws.get("/account", ana)
    assert re.search(r'value="available" selected', page.text)
    assert ws.post("/account/status", ana, {"status": "away"}).status_code == 303
    assert re.search(r'value="away" selected', ws.get("/account", ana).text)
    assert ws.post("/account/status", ana, {"status": "asleep"}).status_code == 422


def test_an_invited_agent_chooses_a_password_through_the_link_once(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("admin@city.example", role=Role.ADMIN)
    admin = ws.sign_in("admin@city.example")
    invited = ws.post(
        "/admin/agents",
        admin,
        {"email": "new@city.example", "name": "New Agent", "role": "agent", "queues": "roads"},
    )
    assert invited.status_code == 200
    link = re.search(r"https://carecentre\.test(/set-password/[\w-]+)", invited.text)
    assert link is not None
    path = link.group(1)
    assert "New Agent" in ws.get(path).text
    short = ws.client.post(path, data={"new_password": "short", "confirm_password": "short"})
    assert short.status_code == 422
    done = ws.client.post(
        path,
        data={"new_password": PASSWORD, "confirm_password": PASSWORD},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/login?notice=password-set"
    assert ws.get(path).status_code == 404
    ws.sign_in("new@city.example")
