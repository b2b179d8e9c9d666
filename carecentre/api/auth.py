"""Who is calling the API: a bearer token from ``carecentre token create``."""

from __future__ import annotations

from starlette.requests import Request

from carecentre.access import Principal
from carecentre.api.errors import ApiError
from carecentre.services import services
from carecentre.tokens import authenticate

SESSION_PRINCIPAL = "carecentre.principal"


async def require_principal(request: Request) -> Principal:
    """The caller, or a 401. A principal set by the session layer (agent UI) is accepted too."""
    preset = request.scope.get(SESSION_PRINCIPAL)
    if isinstance(preset, Principal):
        return preset
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "send 'Authorization: Bearer <token>' (create one: carecentre token create)"
        )
    async with services(request).db.read() as session:
        principal = await authenticate(session, token.strip())
    if principal is None:
        raise ApiError(401, "the token is unknown, revoked, or its agent is deactivated")
    return principal
