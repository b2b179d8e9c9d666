"""Signing in and out, the agent's own account (status, password), and set-password links."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from agent_ui.views import back, form, page, presence, render, safe_next
from carecentre.login_limits import limiter
from carecentre.presence import PresenceStatus
from carecentre.services import Services, services
from carecentre.sessions import (
    PasswordRefused,
    SignedIn,
    SignInRefused,
    cookie_name,
    is_https,
    store,
)
from carecentre.sessions_models import AgentPresence
from carecentre.staff import StaffError, link_agent, use_password_link
from carecentre.web.session_layer import SESSION_ENDED, signed_in

# Before sign-in there is no session to tie a CSRF token to, so the sign-in form carries an HMAC
# of a random value kept in its own short-lived cookie (double submit).
LOGIN_COOKIE = "cc_login"
SECURE_LOGIN_COOKIE = "__Host-cc_login"


def _login_cookie(svc: Services) -> str:
    return SECURE_LOGIN_COOKIE if is_https(svc.settings) else LOGIN_COOKIE


def _login_token(svc: Services, nonce: str) -> str:
    key = svc.settings.secret().encode()
    return hmac.new(key, b"login:" + nonce.encode(), hashlib.sha256).hexdigest()


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(
    request: Request, svc: Services, *, status: int = 200, error: str = "", email: str = ""
) -> Response:
    nonce = request.cookies.get(_login_cookie(svc)) or secrets.token_urlsafe(24)
    ended = bool(request.scope.get(SESSION_ENDED)) and not error
    response = render(
        request,
        "login.html",
        status=status,
        title="Sign in",
        login_csrf=_login_token(svc, nonce),
        error=error,
        email=email,
        next=safe_next(request.query_params.get("next")),
        ended=ended,
    )
    response.set_cookie(
        _login_cookie(svc),
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_https(svc.settings),
    )
    return response


async def login_page(request: Request) -> Response:
    if signed_in(request.scope) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, services(request))


async def login(request: Request) -> Response:
    svc = services(request)
    fields = await form(request)
    email = fields.get("email", "")[:320]
    nonce = request.cookies.get(_login_cookie(svc), "")
    supplied = fields.get("csrf_token", "")
    if not nonce or not hmac.compare_digest(_login_token(svc, nonce), supplied):
        return _login_page(
            request,
            svc,
            status=403,
            email=email,
            error="This sign-in form had expired. Please sign in again.",
        )
    try:
        token, signed = await store(svc).sign_in(
            email,
            fields.get("password", ""),
            address=_address(request),
            user_agent=request.headers.get("user-agent", ""),
            limiter=limiter(svc),
        )
    except SignInRefused as error:
        status = 429 if error.retry_after else 401
        return _login_page(request, svc, status=status, error=str(error), email=email)
    await presence(svc).set(signed.principal.agent_id, PresenceStatus.AVAILABLE)
    response = RedirectResponse(safe_next(fields.get("next")), status_code=303)
    response.set_cookie(
        cookie_name(svc.settings),
        token,
        httponly=True,
        samesite="lax",
        secure=is_https(svc.settings),
        path="/",
    )
    response.delete_cookie(_login_cookie(svc), secure=is_https(svc.settings), samesite="strict")
    return response


async def logout(request: Request) -> Response:
    svc = services(request)
    signed = signed_in(request.scope)
    if signed is not None:
        await store(svc).sign_out(signed)
        await presence(svc).set(signed.principal.agent_id, PresenceStatus.OFFLINE)
    response = RedirectResponse("/login?notice=signed-out", status_code=303)
    response.delete_cookie(
        cookie_name(svc.settings), secure=is_https(svc.settings), httponly=True, samesite="lax"
    )
    return response


@page()
async def account(request: Request, signed: SignedIn) -> Response:
    return await _account(request, signed)


async def _account(
    request: Request, signed: SignedIn, *, error: str = "", status: int = 200
) -> Response:
    async with services(request).db.read() as session:
        row = await session.get(AgentPresence, signed.principal.agent_id)
    return render(
        request,
        "account.html",
        signed=signed,
        status=status,
        title="Your account",
        error=error,
        statuses=[s.value for s in PresenceStatus],
        current=row.status if row else PresenceStatus.OFFLINE.value,
    )


@page()
async def set_status(request: Request, signed: SignedIn) -> Response:
    fields = await form(request)
    try:
        wanted = PresenceStatus(fields.get("status", ""))
    except ValueError:
        return await _account(
            request, signed, error="Choose available, away or offline.", status=422
        )
    await presence(services(request)).set(signed.principal.agent_id, wanted)
    return back(safe_next(fields.get("next"), "/account"), "presence")


@page()
async def change_password(request: Request, signed: SignedIn) -> Response:
    fields = await form(request)
    new = fields.get("new_password", "")
    if new != fields.get("confirm_password", ""):
        return await _account(request, signed, error="The two new passwords differ.", status=422)
    try:
        await store(services(request)).change_password(
            signed, fields.get("current_password", ""), new
        )
    except PasswordRefused as error:
        return await _account(request, signed, error=str(error), status=422)
    return back("/account", "password-changed")


async def set_password_page(request: Request) -> Response:
    token = request.path_params["token"]
    agent = await link_agent(services(request).db, token)
    return render(
        request,
        "set_password.html",
        title="Choose your password",
        agent=agent,
        error="" if agent else "This link has expired or was already used; ask an administrator.",
        status=200 if agent else 404,
    )


async def set_password(request: Request) -> Response:
    svc = services(request)
    token = request.path_params["token"]
    fields = await form(request)
    password = fields.get("new_password", "")
    agent = await link_agent(svc.db, token)
    error = ""
    if password != fields.get("confirm_password", ""):
        error = "The two passwords differ."
    else:
        try:
            await use_password_link(svc.db, token, password)
        except StaffError as refused:
            error = str(refused)
    if error:
        return render(
            request,
            "set_password.html",
            title="Choose your password",
            agent=agent,
            error=error,
            status=422 if agent else 404,
        )
    return back("/login", "password-set")


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account", account, methods=["GET"]),
    Route("/account/status", set_status, methods=["POST"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/set-password/{token}", set_password_page, methods=["GET"]),
    Route("/set-password/{token}", set_password, methods=["POST"]),
]
