"""The sandbox clock over HTTP (``tonle sandbox clock`` talks to it): show, advance (running what falls due on
the way, in order), reset. Sandbox only: with ``TONLE_SANDBOX=false`` every call answers 403 and nothing moves."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse as WireJSONResponse  # floats are fine here: no money

from tonle.jobs import timetravel
from tonle.jobs.runtime import Context
from tonle.kit.clock import clock, parse_duration

# Not in the OpenAPI document: a sandbox tool like the sandbox banks' pages (docs/direct-debit.md describes it).
router = APIRouter(prefix="/sandbox/clock", tags=["Sandbox"], include_in_schema=False)
MAX_SECONDS = 10 * 366 * 86400  # one move: at most ten years


class ClockAnswer(BaseModel):
    now: str
    offset_seconds: float
    stops: int = 0
    work: int = 0


class AdvanceBody(BaseModel):
    by: str = "0s"


def _answer(moved: timetravel.Moved | None, offset: float) -> WireJSONResponse:
    now = moved.now if moved else clock.now()
    return WireJSONResponse(
        {
            "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "offset_seconds": offset,
            "stops": moved.stops if moved else 0,
            "work": moved.work if moved else 0,
        }
    )


def _refused() -> WireJSONResponse:
    return WireJSONResponse(
        {"error": "the sandbox clock cannot be moved: this server is not a sandbox (TONLE_SANDBOX=false)"},
        status_code=403,
    )


@router.get("", summary="The sandbox clock: now, and how far it runs ahead of real time", response_model=ClockAnswer)
async def show(request: Request) -> Any:
    if not request.app.state.settings.sandbox:
        return _refused()
    return _answer(None, await timetravel.take_in(request.app.state.db))


@router.post(
    "/advance",
    summary="Move the sandbox clock ahead (by: 30d, 12h, 90m, 45s), running what falls due on the way",
    response_model=ClockAnswer,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": AdvanceBody.model_json_schema()}}}},
)
async def advance(request: Request) -> Any:
    settings = request.app.state.settings
    if not settings.sandbox:
        return _refused()
    try:
        raw = await request.json()
        seconds = parse_duration(str(raw.get("by", "0s")) if isinstance(raw, dict) else "x")
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        if seconds > MAX_SECONDS:
            raise ValueError("one move takes the clock at most ten years ahead")
    except ValueError as exc:
        return WireJSONResponse({"error": str(exc)}, status_code=400)
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as http:
        ctx = Context(request.app.state.db, settings, http)
        moved = await timetravel.advance(ctx, request.app.state.tasks, seconds, sandbox=True)
    return _answer(moved, moved.offset_seconds)


@router.post("/reset", summary="Back to real time", response_model=ClockAnswer)
async def reset(request: Request) -> Any:
    if not request.app.state.settings.sandbox:
        return _refused()
    moved = await timetravel.reset(request.app.state.db, sandbox=True)
    return _answer(moved, moved.offset_seconds)
