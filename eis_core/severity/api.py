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

import datetime as dt
import logging
import queue
import threading
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from eis_core.severity.features import FLAGS, OFFENSES, WEAPONS

log = logging.getLogger(__name__)
MAX_BATCH = 1000
#: the largest request body accepted (a full batch of 1,000 reports is about 0.4 MB); larger gets 413
MAX_BODY_BYTES = 2 * 1024 * 1024

Offense = Literal[tuple(OFFENSES)]  # type: ignore[valid-type]
Weapon = Literal[tuple(WEAPONS)]  # type: ignore[valid-type]
Severity = Literal["HIGH", "MEDIUM", "LOW"]


class CrimeReport(BaseModel):
    """A crime report as it is filed (the contract's crime_reports columns known at filing)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "report_id": "R000123456", "reported_at": "2015-12-01T22:15:00", "division": "D1", "beat": "D1B1",
        "offense_category": "ROBBERY", "weapon": "FIREARM", "victim_count": 1, "gang_related": False,
        "domestic_violence": False, "narcotics": False, "hate_crime": False, "child_involved": False,
        "suicide_related": False}]})

    report_id: str = Field(min_length=1, max_length=64, description="The department's report id (logged).")
    reported_at: dt.datetime = Field(description="When the report was filed (department wall-clock time; an offset is ignored).")
    division: str = Field(min_length=1, max_length=64)
    beat: str = Field(min_length=1, max_length=64)
    offense_category: Offense
    weapon: Weapon
    victim_count: int = Field(ge=0, le=1000)
    gang_related: bool = False
    domestic_violence: bool = False
    narcotics: bool = False
    hate_crime: bool = False
    child_involved: bool = False
    suicide_related: bool = False
    beat_reports_30d: int | None = Field(default=None, ge=0, description=(
        "Reports in the beat in the 30 days before reported_at; omit it and the service counts them "
        "from the warehouse."))


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reports: list[CrimeReport] = Field(min_length=1, max_length=MAX_BATCH)


class SeverityPrediction(BaseModel):
    report_id: str
    severity: Severity
    probabilities: dict[str, float] = Field(description="HIGH, MEDIUM, LOW; they sum to 1.")
    model_version: str
    beat_reports_30d: int


class BatchResponse(BaseModel):
    model_version: str
    predictions: list[SeverityPrediction]


class PredictionLogger:
    """Queues predictions and COPYs them into severity.predictions_log from one background thread."""

    def __init__(self, batch: int = 500, interval: float = 0.5) -> None:
        self.q: queue.Queue = queue.Queue()
        self.batch, self.interval = batch, interval
        self.written = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="severity-prediction-log", daemon=True)
        self._thread.start()

    def put(self, row: tuple) -> None:
        self.q.put(row)

    def _drain(self, first) -> list:
        rows = [first]
        while len(rows) < self.batch:
            try:
                rows.append(self.q.get_nowait())
            except queue.Empty:
                break
        return rows

    def _run(self) -> None:
        from eis_core import db
        from eis_core.severity.store import log_predictions

        while True:
            first = self.q.get()
            rows = self._drain(first)
            stop = any(r is None for r in rows)
            data = [r for r in rows if r is not None]
            if data:
                try:
                    with db.connect() as conn:
                        self.written += log_predictions(conn, data)
                except Exception:  # noqa: BLE001 - keep serving; the failure is logged
                    self.errors += len(data)
                    log.exception("could not write %d predictions to severity.predictions_log", len(data))
            for _ in rows:
                self.q.task_done()
            if stop:
                return

    def flush(self) -> None:
        self.q.join()

    def close(self) -> None:
        self.q.put(None)
        self._thread.join(timeout=30)


class ServiceState:
    def __init__(self, model_version: str | None, refresh_seconds: float, source) -> None:
        self.pinned = model_version
        self.refresh_seconds = refresh_seconds
        self.source = source
        self.model = None
        self.history = None
        self.tokens: dict[str, int] = {}
        self.not_ready: str | None = "starting"
        self.logger: PredictionLogger | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._schema_ok = False

    # ---- loading
    def load_model(self, conn) -> None:
        from eis_core.severity.registry import champion_version, load_model

        want = self.pinned or champion_version(conn)
        if want is None:
            raise LookupError("no champion severity model in the registry: train one with `eis severity train`")
        if self.model is None or self.model.version != want:
            model = load_model(want, conn=conn)
            if self.model is not None:
                log.warning("severity service: now serving %s (was %s)", model.version, self.model.version)
            self.model = model

    def load_history(self, conn) -> None:
        from psycopg import sql

        from eis_core.severity.features import BeatHistory, resolve_source

        schema, table = resolve_source(conn, self.source)
        rel = sql.Identifier(schema, table)
        if self.history is None or self.history.latest is None:
            rows = conn.execute(sql.SQL("SELECT beat, reported_at FROM {}").format(rel)).fetchall()
            hist = BeatHistory()
            hist.add([r[0] for r in rows], [r[1] for r in rows])
            self.history = hist
        else:
            rows = conn.execute(sql.SQL("SELECT beat, reported_at FROM {} WHERE reported_at > %s").format(rel),
                                (self.history.latest.to_pydatetime(),)).fetchall()
            if rows:
                with self._lock:
                    self.history.add([r[0] for r in rows], [r[1] for r in rows])

    def refresh(self) -> None:
        from eis_core import db
        from eis_core.severity.store import ensure_severity_schema
        from eis_core.severity.tokens import active_hashes

        try:
            with db.connect() as conn:
                if not self._schema_ok:
                    ensure_severity_schema(conn)
                    conn.commit()
                    self._schema_ok = True
                self.tokens = active_hashes(conn)
                self.load_model(conn)
                self.load_history(conn)
            self.not_ready = None
        except Exception as e:  # noqa: BLE001 - readiness reports it
            log.error("severity service refresh failed: %s", e)
            if self.model is None or self.history is None:
                self.not_ready = f"{type(e).__name__}: {e}"

    def start(self) -> None:
        self.logger = PredictionLogger()
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="severity-refresh", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        if self.logger is not None:
            self.logger.close()

    # ---- auth
    def cached_token_id(self, token: str) -> int | None:
        from eis_core.severity.tokens import hash_token

        return self.tokens.get(hash_token(token))

    def token_id(self, token: str) -> int | None:
        from eis_core import db
        from eis_core.severity.tokens import hash_token, lookup

        h = hash_token(token)
        with db.connect() as conn:
            tid = lookup(conn, h)
        if tid is not None:
            self.tokens = {**self.tokens, h: tid}
        return tid

    # ---- scoring
    def score(self, report: CrimeReport, token_id: int | None, model=None) -> SeverityPrediction:
        from eis_core.severity.features import naive

        model = model or self.model
        at = naive(report.reported_at)
        row = report.model_dump()
        if report.beat_reports_30d is None:
            with self._lock:
                row["beat_reports_30d"] = self.history.count(report.beat, at)
        row["hour"] = at.hour
        row["weekday"] = at.day_of_week
        for f in FLAGS:
            row[f] = int(row[f])
        label, proba = model.predict_one(row)
        self.logger.put((report.report_id, model.version, label, proba, dt.datetime.now(dt.UTC), token_id))
        return SeverityPrediction(report_id=report.report_id, severity=label, probabilities=proba,
                                  model_version=model.version, beat_reports_30d=row["beat_reports_30d"])


class BodyLimit:
    """ASGI middleware: a request body over *limit* bytes is answered 413 before the app parses it
    (by its Content-Length, or while it streams in without one)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def too_large(self, scope, receive, send) -> None:
        await JSONResponse(status_code=413, content={
            "message": f"request body too large: at most {self.limit // (1024 * 1024)} MiB "
                       f"(a batch holds at most {MAX_BATCH} reports)", "fields": ["body"]})(scope, receive, send)

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

    app = FastAPI(title="EIS crime-report severity API", version="1", lifespan=lifespan, description=(
        "Predicts the severity (HIGH / MEDIUM / LOW) of a crime report from what is known when it is filed. "
        "Authenticate with `Authorization: Bearer <token>` (`eis tokens add NAME`). See docs/severity.md."))
    app.state.severity = state
    bearer = HTTPBearer(auto_error=False, description="An API token from `eis tokens add NAME`.")

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(UnknownBeat)
    async def unknown_beat(request: Request, exc: UnknownBeat):
        return JSONResponse(status_code=422, content={
            "message": f"invalid input in field {exc.field}: unknown beat {exc.beat[:64]!r} (no crime report of "
                       "this beat in the warehouse; check the spelling)", "fields": [exc.field],
            "detail": [{"loc": ["body", *exc.field.replace("[", ".").replace("]", "").split(".")],
                        "type": "unknown_beat", "msg": "unknown beat"}]})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        syntax = [e for e in errors if e.get("type") == "json_invalid"]
        if syntax:  # the location of a JSON syntax error is a character offset, not a field
            e = syntax[0]
            pos = next((p for p in e.get("loc", ()) if isinstance(p, int)), None)
            why = (e.get("ctx") or {}).get("error") or e.get("msg") or "JSON decode error"
            return JSONResponse(status_code=422, content={
                "message": f"the request body is not valid JSON: {why}"
                           + (f" (at character {pos})" if pos is not None else ""),
                "fields": ["body"], "detail": [{"loc": ["body"], "type": "json_invalid", "msg": str(why),
                                                "position": pos}]})
        fields = sorted({_field(e.get("loc", ())) for e in errors})
        first = errors[0] if errors else {}
        msg = f"invalid input in field {_field(first.get('loc', ()))}: {first.get('msg', 'invalid')}"
        if len(fields) > 1:
            msg += f" (fields with errors: {', '.join(fields)})"
        return JSONResponse(status_code=422, content={"message": msg, "fields": fields,
                                                      "detail": jsonable_encoder(errors, exclude={"input", "ctx"})})

    async def authed(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> int:
        unauthorized = HTTPException(status_code=401, detail="a valid API token is required "
                                     "(Authorization: Bearer <token>; `eis tokens add NAME`)",
                                     headers={"WWW-Authenticate": "Bearer"})
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

    def ready() -> None:
        if state.not_ready is not None or state.model is None:
            raise HTTPException(status_code=503, detail=f"not ready: {state.not_ready}")

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: a model and the beat history are loaded")
    def readyz() -> dict:
        ready()
        return {"status": "ready", "model_version": state.model.version,
                "beat_history_reports": state.history.n_reports,
                "beat_history_until": str(state.history.latest) if state.history.latest is not None else None}

    @app.post("/v1/severity", response_model=SeverityPrediction, tags=["severity"],
              summary="Predict the severity of one crime report",
              responses={401: {"description": "missing or invalid token"}, 422: {"description": "invalid field"}})
    async def predict(report: CrimeReport, token_id: int = Depends(authed)) -> SeverityPrediction:
        ready()
        check_beats([report], "beat")
        return state.score(report, token_id)

    @app.post("/v1/severity/batch", response_model=BatchResponse, tags=["severity"],
              summary=f"Predict the severity of up to {MAX_BATCH} crime reports",
              responses={401: {"description": "missing or invalid token"}, 422: {"description": "invalid field"}})
    def predict_batch(body: BatchRequest, token_id: int = Depends(authed)) -> BatchResponse:
        ready()
        check_beats(body.reports, "reports[{i}].beat")
        model = state.model  # one model for the whole batch, even if a promotion lands meanwhile
        preds = [state.score(r, token_id, model) for r in body.reports]
        return BatchResponse(model_version=model.version, predictions=preds)

    @app.get("/v1/model", tags=["severity"], summary="The model being served")
    def model_info(token_id: int = Depends(authed)) -> dict:
        ready()
        m = state.model.metadata
        return {"version": state.model.version, "train_start": m["train_start"], "train_end": m["train_end"],
                "data_hash": m["data_hash"], "library_versions": m["library_versions"], "metrics": m["metrics"]}

    return app


def serve(host: str = "127.0.0.1", port: int = 8001, model_version: str | None = None, refresh_seconds: float = 10.0,
          access_log: bool = False, source=None) -> None:
    import uvicorn

    app = create_app(model_version, refresh_seconds=refresh_seconds, source=source)
    uvicorn.run(app, host=host, port=port, workers=1, access_log=access_log, log_level="info")
