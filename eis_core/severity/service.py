"""The severity service's state: the model served, the beat history, the token cache, and the
background prediction log (see :mod:`eis_core.severity.api` for the HTTP side)."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from typing import TYPE_CHECKING

from eis_core.severity.features import FLAGS, BeatHistory
from eis_core.severity.schemas import CrimeReport, SeverityPrediction

if TYPE_CHECKING:
    from eis_core.severity.registry import LoadedModel

log = logging.getLogger("eis_core.severity.api")


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
        self.model: LoadedModel | None = None
        self.history: BeatHistory | None = None
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

        from eis_core.severity.features import resolve_source

        schema, table = resolve_source(conn, self.source)
        rel = sql.Identifier(schema, table)
        if self.history is None or self.history.latest is None:
            rows = conn.execute(sql.SQL("SELECT beat, reported_at FROM {}").format(rel)).fetchall()
            hist = BeatHistory()
            hist.add([r[0] for r in rows], [r[1] for r in rows])
            self.history = hist
        else:
            rows = conn.execute(
                sql.SQL("SELECT beat, reported_at FROM {} WHERE reported_at > %s").format(rel),
                (self.history.latest.to_pydatetime(),),
            ).fetchall()
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
        if model is None or self.logger is None:
            raise RuntimeError("the severity service is not started: no model or prediction log yet")
        at = naive(report.reported_at)
        row = report.model_dump()
        if report.beat_reports_30d is None:
            if self.history is None:
                raise RuntimeError("the severity service has no beat history yet")
            with self._lock:
                row["beat_reports_30d"] = self.history.count(report.beat, at)
        row["hour"] = at.hour
        row["weekday"] = at.dayofweek
        for f in FLAGS:
            row[f] = int(row[f])
        label, proba = model.predict_one(row)
        self.logger.put((report.report_id, model.version, label, proba, dt.datetime.now(dt.UTC), token_id))
        return SeverityPrediction(
            report_id=report.report_id,
            severity=label,
            probabilities=proba,
            model_version=model.version,
            beat_reports_30d=row["beat_reports_30d"],
        )


__all__ = ["PredictionLogger", "ServiceState"]
