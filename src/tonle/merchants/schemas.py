"""Wire shapes of the authorize endpoint (for validation texts and the OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuthorizeRequest(BaseModel):
    token: str = Field(description="Merchant token issued by the gateway (UUID-like)")
    clientId: str = Field(description="Client id")
    secret: str = Field(description="Client secret")
    refreshToken: str = Field(default="", description='Refresh token of a previous answer; "" for a fresh login')


class AuthorizeData(BaseModel):
    issuer: str
    token: str = Field(description="JWT bearer token for every other endpoint")
    refreshToken: str = Field(description="64 hex characters; usable once")
    tokenExpireTime: str = Field(description="ISO-8601 with 7 fractional digits and +07:00 offset")


class AuthorizeResponse(BaseModel):
    code: int = Field(description="200 on success (an integer, unlike the other endpoints)")
    message: str
    data: AuthorizeData | None


class SecurityError(BaseModel):
    code: int = Field(description="the HTTP status: 400, 401 or 429")
    message: str = Field(description="why the request was refused")
    data: None = None
