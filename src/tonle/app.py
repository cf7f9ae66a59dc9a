"""create_app(settings): routers, middleware, exception handlers, lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse

from tonle import __version__
from tonle.banks import cards, debits
from tonle.banks.router import router as bank_router
from tonle.checkout.live import Live
from tonle.checkout.pages import router as checkout_pages
from tonle.checkout.router import router as checkout_router
from tonle.config import Settings, get_settings
from tonle.customers.router import router as customers_router
from tonle.db import Database, database_unavailable, is_sqlite
from tonle.directdebit.pages import router as subscription_pages
from tonle.directdebit.router import router as direct_debit_router
from tonle.hosted.pages import router as bill_pages
from tonle.hosted.router import IMPORT_PATHS
from tonle.hosted.router import router as hosted_router
from tonle.jobs import timetravel
from tonle.kit.domain import DomainError
from tonle.merchants.router import router as merchants_router
from tonle.methods.pages import router as method_pages
from tonle.notifications.router import router as notify_router
from tonle.payments.router import router as payments_router
from tonle.proxy.router import router as proxy_router
from tonle.sandbox.accountpages import router as account_pages
from tonle.sandbox.bankcore import SandboxRail
from tonle.sandbox.clock import router as clock_router
from tonle.sandbox.debitpages import router as debit_pages
from tonle.sandbox.pages import router as pages_router
from tonle.sandbox.vault import SandboxVault
from tonle.sandbox.vault import router as vault_router
from tonle.sdk.router import router as sdk_router
from tonle.subbillers.bank_api import router as payout_bank_router
from tonle.subbillers.portal import router as portal_router
from tonle.subbillers.router import router as subbillers_router
from tonle.supplier.router import PUSH_PATHS
from tonle.supplier.router import router as supplier_router
from tonle.webhooks.router import router as webhooks_router
from tonle.wire import codes, envelope
from tonle.wire.edge import BodyTimeout, BodyTooLarge, EdgeMiddleware
from tonle.wire.errors import AuthError, TonleError, Unspoken, table_of, translate
from tonle.wire.http import install_openapi
from tonle.wire.pages import SWAGGER_UI_STATIC, landing
from tonle.wire.pages import router as design_router
from tonle.wire.wirejson import WireJSONResponse
from tonle.worker import TASKS

log = logging.getLogger("tonle")

DESCRIPTION = """Tonle speaks the Bill24 merchant APIs. Point a Bill24 client's base URL here.

Every endpoint except `/merchantsecurity/authorize` takes `Authorization: Bearer <token>`. Business errors answer
HTTP 200 with a `code` other than `"000"`; authentication failures answer HTTP 401 (429 when rate-limited).
Every response carries an `X-Request-Id` header."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.sql_echo:
            logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
        options: dict[str, object] = {"hide_parameters": not settings.sql_echo}
        if not is_sqlite(settings.effective_database_url):
            options["pool_size"] = settings.db_pool_size
            options["max_overflow"] = settings.db_max_overflow
        app.state.db = Database(settings.effective_database_url, **options)
        stop = asyncio.Event()
        worker = None
        following = None
        if settings.sandbox:  # this process reads the sandbox clock another process may move
            following = asyncio.create_task(
                timetravel.follow(app.state.db, settings.sandbox_clock_follow_seconds, stop)
            )
        if settings.worker_in_process:
            from tonle.worker import run_forever

            worker = asyncio.create_task(run_forever(app.state.db, settings, stop))
        try:
            yield
        finally:
            await live.close()
            stop.set()
            if following is not None:
                await following
            if worker is not None:
                try:
                    await asyncio.wait_for(worker, timeout=15)
                except (TimeoutError, asyncio.CancelledError):
                    worker.cancel()
            await app.state.db.dispose()

    app = FastAPI(
        title="Tonle",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the package's own copy of Swagger UI (no CDN: works offline)
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.tasks = TASKS  # what the sandbox clock runs when it moves
    debits.install(SandboxRail())
    cards.install(SandboxVault())
    compat = settings.compat
    live = Live(lambda: app.state.db)
    app.state.live = live

    def rid(request: Request) -> str:
        return request.scope.get("state", {}).get("request_id", "")

    @app.exception_handler(TonleError)
    async def on_tonle_error(request: Request, exc: TonleError) -> WireJSONResponse:
        return envelope.error(exc, compat)

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> WireJSONResponse:
        # The product of the endpoint that was called says it in its words; the compat profile is read here.
        try:
            said = translate(exc, table_of(request.scope.get("route")), compat)
        except Unspoken:
            log.error("unhandled domain error rid=%s", rid(request), exc_info=exc)
            return envelope.product(codes.INTERNAL, None, compat, status=500)
        return envelope.error(said, compat)

    @app.exception_handler(AuthError)
    async def on_auth_error(request: Request, exc: AuthError) -> WireJSONResponse:
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.family == "security":
            return envelope.security(exc.status, exc.reason, None, status=exc.status, headers=headers)
        headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{exc.reason}"'
        return envelope.product(
            codes.UNAUTHORIZED,
            None,
            compat,
            status=exc.status,
            text=(exc.reason, codes.UNAUTHORIZED.kh),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> WireJSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            parts.append((f"The [{loc}] field is invalid.", f"[{loc}] មិនត្រឹមត្រូវ។"))
        text = (", ".join(p[0] for p in parts), ", ".join(p[1] for p in parts))
        # HTTP 200, the live server's way, unless the product answers bad input with a 4xx (Hosted: 400).
        status = getattr(request.scope.get("route"), "validation_status", 200)
        return envelope.product(codes.MISSED_FIELD, None, compat, text=text, status=status)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> WireJSONResponse:
        code = {404: codes.ROUTE_NOT_FOUND, 405: codes.METHOD_NOT_ALLOWED}.get(exc.status_code, codes.INTERNAL)
        return envelope.product(code, None, compat, status=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(BodyTooLarge)
    async def on_too_large(request: Request, exc: BodyTooLarge) -> WireJSONResponse:
        return envelope.product(codes.BODY_TOO_LARGE, None, compat, status=413, headers={"Connection": "close"})

    @app.exception_handler(BodyTimeout)
    async def on_body_timeout(request: Request, exc: BodyTimeout) -> WireJSONResponse:
        return envelope.product(codes.BODY_TIMEOUT, None, compat, status=408, headers={"Connection": "close"})

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> WireJSONResponse:
        if database_unavailable(exc):
            # Down, restarting, refusing connections, or every pooled connection busy: the request did nothing
            # (its transaction never committed), so the client may retry; a clear 503, not a 500.
            log.error("database unavailable rid=%s: %s: %s", rid(request), type(exc).__name__, exc)
            return envelope.product(codes.UNAVAILABLE, None, compat, status=503, headers={"Retry-After": "5"})
        log.error("unhandled error rid=%s", rid(request), exc_info=exc)
        return envelope.product(codes.INTERNAL, None, compat, status=500)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Tonle API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )

    app.mount("/docs/static", StaticFiles(directory=SWAGGER_UI_STATIC), name="swagger-ui")
    app.mount("/socket.io", live.asgi, name="socket.io")  # the Bill24 SDKs' live status room

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        return landing(request)

    @app.get("/healthz", tags=["Tonle"], summary="Liveness: the process answers")
    async def healthz() -> WireJSONResponse:
        return WireJSONResponse({"status": "ok", "version": __version__})

    app.include_router(merchants_router)
    app.include_router(customers_router)
    app.include_router(payments_router)
    app.include_router(subbillers_router)
    app.include_router(sdk_router)
    app.include_router(checkout_router)
    app.include_router(checkout_pages)
    app.include_router(portal_router)
    app.include_router(webhooks_router)
    app.include_router(notify_router)
    app.include_router(proxy_router)
    app.include_router(hosted_router)
    app.include_router(bill_pages)
    app.include_router(supplier_router)
    app.include_router(direct_debit_router)
    app.include_router(subscription_pages)
    app.include_router(debit_pages)
    app.include_router(method_pages)
    app.include_router(account_pages)
    app.include_router(vault_router)
    app.include_router(clock_router)
    app.include_router(bank_router)
    app.include_router(payout_bank_router)
    app.include_router(pages_router)
    app.include_router(design_router)
    install_openapi(app)
    app.add_middleware(
        EdgeMiddleware,
        max_body=settings.max_body_bytes,
        compat=compat,
        log=settings.access_log,
        body_timeout=settings.body_timeout_seconds,
        # A bulk body (10,000 invoices or records with their lines) may be larger than any other request's.
        bulk=tuple((path, settings.hosted_import_max_body_bytes) for path in (*IMPORT_PATHS, *PUSH_PATHS)),
        unavailable=database_unavailable,
    )
    return app
