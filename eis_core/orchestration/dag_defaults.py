"""What every DAG of the platform shares: retries with back-off, the failure notifier, and which errors
are worth a retry.

* :func:`default_args` - ``retries`` (``EIS_TASK_RETRIES``, default 3), an exponential back-off from
  ``EIS_TASK_RETRY_DELAY`` seconds (default 30, doubling, at most ``EIS_TASK_MAX_RETRY_DELAY``, default
  600), :data:`IDEMPOTENT` as ``retry_policy`` and :class:`FailureNotifier` as ``on_failure_callback``
  (it fires once, when a task has failed for good).  Every task gets retries, so a failure *outside* a
  task's code - the task process cannot reach the api-server at start (``httpx.ConnectError``), a
  heartbeat times out (``ReadTimeout``), the worker is killed - is retried, never fatal.
* :data:`IDEMPOTENT` (an Airflow 3.3 ``RetryPolicy``, evaluated in the task process on the real
  exception) - for tasks that give the same result when re-run (a load, ``dbt build``, scoring a date):
  a transient error (lost database connection, timeout, network) is retried; a deterministic one (a
  rejected drop, a failing dbt test, a bad date: ``ValueError`` and the like) fails at once instead
  of failing the same way after minutes of back-off; anything else gets the standard retries.
* :data:`NOT_IDEMPOTENT` - for tasks whose every try records something new (a modeling run, a
  promotion decision, a forecast run): an error raised by their code fails at once; only failures
  outside their code are retried.

Exceptions are matched by class name (no import of eis_core.load & co at parse time).  This module imports only
``airflow.sdk`` and the standard library: DAG files import it at parse time.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import BaseNotifier, ExceptionRetryPolicy, RetryAction, RetryDecision, RetryPolicy

from eis_core.orchestration.notify import send_alert

#: errors a retry may cure, by class name anywhere in the exception's MRO (checked first)
TRANSIENT = frozenset(
    {
        "OperationalError",
        "InterfaceError",  # psycopg / SQLAlchemy: the connection went away
        "TransportError",
        "ConnectError",
        "ReadTimeout",  # httpx (the Task Execution API, webhooks)
        "ConnectionError",
        "TimeoutError",
    }
)
#: errors a retry cannot cure
DETERMINISTIC = frozenset(
    {
        "ValueError",
        "TypeError",
        "LookupError",
        "AssertionError",
        "NotImplementedError",
        "FileNotFoundError",
        "NotADirectoryError",
        "PermissionError",
        "LoadRejected",
        "TransformError",  # eis_core: a rejected drop, a failing dbt model/test
        "DatabaseSetupError",  # eis_core.db: the server is not set up as configured
        "ProgrammingError",
        "DataError",
        "IntegrityError",  # psycopg: bad SQL or data
    }
)


class ErrorClassRetryPolicy(RetryPolicy):
    """Retry transient errors, fail deterministic ones at once, default retries for the rest.

    Matches class *names* along the MRO (and the ``__cause__`` chain), so no exception module has to be
    imported to build the policy: DAG files stay light at parse time.  Evaluated in the task process on
    the real exception (Airflow 3.3 ``retry_policy``).
    """

    def __init__(
        self, transient=TRANSIENT, deterministic=DETERMINISTIC, default: RetryAction = RetryAction.DEFAULT
    ) -> None:
        self.transient = frozenset(transient)
        self.deterministic = frozenset(deterministic)
        self.default = default

    def classify(self, exc: BaseException | None) -> RetryAction:
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            names = {c.__name__ for c in type(exc).__mro__}
            if names & self.transient:
                return RetryAction.RETRY
            if names & self.deterministic:
                return RetryAction.FAIL
            exc = exc.__cause__
        return self.default

    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:
        action = self.classify(exception)
        name = type(exception).__name__
        if action == RetryAction.RETRY:
            return RetryDecision.retry(
                reason=f"transient {name}: retried with back-off (try {try_number} of {max_tries})"
            )
        if action == RetryAction.FAIL:
            return RetryDecision.fail(reason=f"deterministic {name}: a retry cannot help")
        return RetryDecision.default()

    def serialize(self) -> dict:
        return {
            "__type": type(self).__name__,
            "transient": sorted(self.transient),
            "deterministic": sorted(self.deterministic),
            "default": self.default.value,
        }


IDEMPOTENT = ErrorClassRetryPolicy()
NOT_IDEMPOTENT = ExceptionRetryPolicy(rules=[], default=RetryAction.FAIL)


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class FailureNotifier(BaseNotifier):
    """E-mail and/or webhook alert of a failed task (``eis_core.orchestration.notify``)."""

    def notify(self, context) -> None:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        run_id = getattr(ti, "run_id", None) or getattr(context.get("dag_run"), "run_id", "?")
        try_number = getattr(ti, "try_number", None)
        exc = context.get("exception")
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else str(context.get("reason") or "unknown")
        cause = exc.__cause__ if exc is not None else None
        lines = [
            f"DAG:     {dag_id}",
            f"task:    {task_id}",
            f"run:     {run_id}",
            f"try:     {try_number}",
            f"error:   {reason}",
        ]
        if cause is not None:
            lines.append(f"cause:   {type(cause).__name__}: {cause}")
        log_url = getattr(ti, "log_url", None)
        if log_url:
            lines.append(f"log:     {log_url}")
        home = os.environ.get("AIRFLOW_HOME")
        if home and ti is not None:
            lines.append(
                f"log file: {home}/logs/dag_id={dag_id}/run_id={run_id}/task_id={task_id}/attempt={try_number}.log"
            )
        send_alert(
            f"[EIS] {dag_id}.{task_id} failed",
            "\n".join(lines) + "\n",
            extra={
                "dag_id": dag_id,
                "task_id": task_id,
                "run_id": run_id,
                "try_number": try_number,
                "error": reason,
                "event": "task_failed",
            },
        )


def default_args(**overrides) -> dict:
    """``default_args`` of every DAG: retries with exponential back-off and the failure notifier."""
    args = {
        "retries": int(_env_float("EIS_TASK_RETRIES", 3)),
        "retry_delay": timedelta(seconds=_env_float("EIS_TASK_RETRY_DELAY", 30)),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=_env_float("EIS_TASK_MAX_RETRY_DELAY", 600)),
        "retry_policy": IDEMPOTENT,
        "on_failure_callback": [FailureNotifier()],
    }
    args.update(overrides)
    return args


__all__ = [
    "DETERMINISTIC",
    "ErrorClassRetryPolicy",
    "IDEMPOTENT",
    "NOT_IDEMPOTENT",
    "TRANSIENT",
    "FailureNotifier",
    "default_args",
]
