from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tonle.merchants import ratelimit, service
from tonle.merchants.schemas import AuthorizeRequest, AuthorizeResponse, SecurityError
from tonle.wire import envelope
from tonle.wire.dates import dotnet_offset
from tonle.wire.errors import AuthError, TonleError
from tonle.wire.http import Session, SettingsDep, body_schema, json_body

router = APIRouter(tags=["Authorization"])


def _field(body: dict[str, object], key: str, required: bool) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise AuthError(f"Please provide [{key}].", status=400, family="security")
        return ""
    if not isinstance(value, str) or len(value) > 512:
        raise AuthError(f"The [{key}] field must be a string.", status=400, family="security")
    return value


async def security_body(request: Request) -> dict[str, Any]:
    """The body, with parse errors in this endpoint's own envelope (an integer code), like its other errors."""
    try:
        return await json_body(request)
    except TonleError as exc:
        reason = exc.text[0] if exc.text else "The request body is not valid JSON."
        raise AuthError(reason, status=400, family="security") from None


@router.post(
    "/merchantsecurity/authorize",
    summary="Authorize: exchange merchant credentials (or a refresh token) for a bearer token",
    response_model=AuthorizeResponse,
    responses={400: {"model": SecurityError}, 401: {"model": SecurityError}, 429: {"model": SecurityError}},
    openapi_extra=body_schema(AuthorizeRequest),
)
async def authorize(
    request: Request,
    body: Annotated[dict[str, Any], Depends(security_body)],
    session: Session,
    settings: SettingsDep,
):
    token = _field(body, "token", True)
    client_id = _field(body, "clientId", True)
    secret = _field(body, "secret", True)
    refresh = _field(body, "refreshToken", False)
    address = request.client.host if request.client else "unknown"
    db = request.app.state.db

    await ratelimit.check(db, settings, client_id, address)
    merchant = await service.check_credentials(session, token, client_id, secret)
    try:
        if merchant is None:
            raise AuthError("Invalid client credentials", family="security")
        try:
            granted = await service.grant(session, settings, merchant, refresh)
        except service.RefreshRefused as refused:  # said in the authorize endpoint's own envelope
            raise AuthError(str(refused), family="security") from refused
    except AuthError as exc:
        # End this request's transaction first: on SQLite it holds the write lock the bookkeeping below needs.
        await session.rollback()
        if isinstance(exc.__cause__, service.RefreshReused):
            async with db.sessions() as other, other.begin():
                await service.revoke_family(other, exc.__cause__.family_id)
        await ratelimit.record_failure(db, settings, client_id, address)
        raise
    return envelope.security(
        200,
        "",
        {
            "issuer": settings.issuer,
            "token": granted.access_token,
            "refreshToken": granted.refresh_token,
            "tokenExpireTime": dotnet_offset(granted.expires_at),
        },
    )
