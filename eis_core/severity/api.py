"""The real-time severity service (FastAPI; OpenAPI at ``/docs`` and ``/openapi.json``).

* ``POST /v1/severity`` - one report -> class, probabilities, model version;
* ``POST /v1/severity/batch`` - up to 1,000 reports in one call;
* ``GET /v1/model`` - the model being served (version, training window, test metrics);
* ``GET /healthz`` (the process is up) and ``GET /readyz`` (a model and the beat history are loaded).

``/v1/*`` needs ``Authorization: Bearer <token>`` (``eis tokens add NAME``); a missing, unknown or
disabled token gets 401.  Invalid input gets 422 whose ``message`` names the field.  Every prediction is
queued to ``severity.predictions_log`` (written in batches by a background thread, flushed on shutdown).

A background thread refreshes, every *refresh_seconds*: the token list (a disabled token stops working
within that time; a new one works at once), the beat history (reports filed since the last refresh), and
- when the service follows the champion - the model, so a promotion or rollback reaches the running
service without a restart.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from eis_core.severity.schemas import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    BatchRequest,
    BatchResponse,
    CrimeReport,
    SeverityPrediction,
)
from eis_core.severity.service import PredictionLogger, ServiceState

if TYPE_CHECKING:
    from eis_core.severity.registry import LoadedModel

log = logging.getLogger(__name__)


class BodyLimit:
    """ASGI middleware: a request body over *limit* bytes is answered 413 before the app parses it
    (by its Content-Length, or while it streams in without one)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def too_large(self, scope, receive, send) -> None:
        await JSONResponse(
            status_code=413,
            content={
                "message": f"request body too large: at most {self.limit // (1024 * 1024)} MiB "
                f"(a batch holds at most {MAX_BATCH} reports)",
                "fields": ["body"],
            },
        )(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self.too_large(scope, receive, send)
                    return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self.too_large(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        data, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class UnknownBeat(Exception):
    def __init__(self, field: str, beat: str) -> None:
        super().__init__(field)
        self.field, self.beat = field, beat


def _field(loc) -> str:
    parts = [str(p) for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (("." if out else "") + p)
    return out or "body"


def create_app(model_version: str | None = None, *, refresh_seconds: float = 10.0, source=None) -> FastAPI:
    """The service app: serves *model_version*, or the registry's champion (followed across promotions)."""
    state = ServiceState(model_version, refresh_seconds, source)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(
        title="EIS crime-report severity API",
        version="1",
        lifespan=lifespan,
        description=(
            "Predicts the severity (HIGH / MEDIUM / LOW) of a crime report from what is known when it is filed. "
            "Authenticate with `Authorization: Bearer <token>` (`eis tokens add NAME`). See docs/severity.md."
        ),
    )
    app.state.severity = state
    bearer = HTTPBearer(auto_error=False, description="An API token from `eis tokens add NAME`.")

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(UnknownBeat)
    async def unknown_beat(request: Request, exc: UnknownBeat):
        return JSONResponse(
            status_code=422,
            content={
                "message": f"invalid input in field {exc.field}: unknown beat {exc.beat[:64]!r} (no crime report of "
                "this beat in the warehouse; check the spelling)",
                "fields": [exc.field],
                "detail": [
                    {
                        "loc": ["body", *exc.field.replace("[", ".").replace("]", "").split(".")],
                        "type": "unknown_beat",
                        "msg": "unknown beat",
                    }
                ],
            },
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        syntax = [e for e in errors if e.get("type") == "json_invalid"]
        if syntax:  # the location of a JSON syntax error is a character offset, not a field
            e = syntax[0]
            pos = next((p for p in e.get("loc", ()) if isinstance(p, int)), None)
            why = (e.get("ctx") or {}).get("error") or e.get("msg") or "JSON decode error"
            return JSONResponse(
                status_code=422,
                content={
                    "message": f"the request body is not valid JSON: {why}"
                    + (f" (at character {pos})" if pos is not None else ""),
                    "fields": ["body"],
                    "detail": [{"loc": ["body"], "type": "json_invalid", "msg": str(why), "position": pos}],
                },
            )
        fields = sorted({_field(e.get("loc", ())) for e in errors})
        first = errors[0] if errors else {}
        msg = f"invalid input in field {_field(first.get('loc', ()))}: {first.get('msg', 'invalid')}"
        if len(fields) > 1:
            msg += f" (fields with errors: {', '.join(fields)})"
        return JSONResponse(
            status_code=422,
            content={"message": msg, "fields": fields, "detail": jsonable_encoder(errors, exclude={"input", "ctx"})},
        )

    async def authed(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> int:
        unauthorized = HTTPException(
            status_code=401,
            detail="a valid API token is required (Authorization: Bearer <token>; `eis tokens add NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
        if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
            raise unauthorized
        tid = state.cached_token_id(creds.credentials)
        if tid is None:  # a token added since the last refresh works at once (database look-up off the loop)
            tid = await run_in_threadpool(state.token_id, creds.credentials)
        if tid is None:
            raise unauthorized
        return tid

    def check_beats(reports: list[CrimeReport], field: str) -> None:
        """A beat the warehouse has never seen is refused (its 30-day count would silently be 0)."""
        known = state.history.times if state.history is not None else {}
        for i, r in enumerate(reports):
            if r.beat not in known:
                raise UnknownBeat(field.format(i=i), r.beat)

    def ready() -> LoadedModel:
        """The model being served, or 503 while the service is not ready."""
        model = state.model
        if state.not_ready is not None or model is None:
            raise HTTPException(status_code=503, detail=f"not ready: {state.not_ready}")
        return model

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: a model and the beat history are loaded")
    def readyz() -> dict:
        model, history = ready(), state.history
        if history is None:
            raise HTTPException(status_code=503, detail="not ready: no beat history")
        return {
            "status": "ready",
            "model_version": model.version,
            "beat_history_reports": history.n_reports,
            "beat_history_until": str(history.latest) if history.latest is not None else None,
        }

    @app.post(
        "/v1/severity",
        response_model=SeverityPrediction,
        tags=["severity"],
        summary="Predict the severity of one crime report",
        responses={401: {"description": "missing or invalid token"}, 422: {"description": "invalid field"}},
    )
    async def predict(report: CrimeReport, token_id: int = Depends(authed)) -> SeverityPrediction:
        ready()
        check_beats([report], "beat")
        return state.score(report, token_id)

    @app.post(
        "/v1/severity/batch",
        response_model=BatchResponse,
        tags=["severity"],
        summary=f"Predict the severity of up to {MAX_BATCH} crime reports",
        responses={401: {"description": "missing or invalid token"}, 422: {"description": "invalid field"}},
    )
    def predict_batch(body: BatchRequest, token_id: int = Depends(authed)) -> BatchResponse:
        model = ready()  # one model for the whole batch, even if a promotion lands meanwhile
        check_beats(body.reports, "reports[{i}].beat")
        preds = [state.score(r, token_id, model) for r in body.reports]
        return BatchResponse(model_version=model.version, predictions=preds)

    @app.get("/v1/model", tags=["severity"], summary="The model being served")
    def model_info(token_id: int = Depends(authed)) -> dict:
        model = ready()
        m = model.metadata
        return {
            "version": model.version,
            "train_start": m["train_start"],
            "train_end": m["train_end"],
            "data_hash": m["data_hash"],
            "library_versions": m["library_versions"],
            "metrics": m["metrics"],
        }

    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8001,
    model_version: str | None = None,
    refresh_seconds: float = 10.0,
    access_log: bool = False,
    source=None,
) -> None:
    import uvicorn

    app = create_app(model_version, refresh_seconds=refresh_seconds, source=source)
    uvicorn.run(app, host=host, port=port, workers=1, access_log=access_log, log_level="info")


__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "BatchRequest",
    "BatchResponse",
    "BodyLimit",
    "CrimeReport",
    "PredictionLogger",
    "ServiceState",
    "SeverityPrediction",
    "create_app",
    "serve",
]
