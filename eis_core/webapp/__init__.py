"""The EIS web app (risk list, officer pages, reviews, models, units, data quality) behind a login.

``create_app()`` builds it over the active warehouse; ``eis webapp`` / ``make webapp`` serve it;
``eis users add|list|disable`` manage the accounts; :func:`demo_step` is the demo's last step.
See docs/webapp.md.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050


def create_app(*args, **kwargs):
    from eis_core.webapp.app import create_app as _create

    return _create(*args, **kwargs)


def demo_step(echo=print, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> dict:
    """Upgrade the warehouse schema (``eis db upgrade``), create (or reset) the ``admin`` user of the
    current department with a freshly generated password, and print how to open the app.  Returns {url,
    username, password, command}."""
    from eis_core import departments
    from eis_core.migrations import ensure_schema
    from eis_core.webapp.store import add_user

    ensure_schema()
    with departments.use(departments.DEFAULT):
        ensure_schema()  # users live in the registry database
    # the demo's admin works in the department the demo ran for (``default`` unless `eis --department`)
    password = add_user(
        "admin", "admin", password=None, created_by="eis demo", replace=True, department=departments.current()
    )
    url = f"http://{host}:{port}/"
    echo("")
    echo(f"EIS web app: start it with `make webapp` (or `.venv/bin/eis webapp --port {port}`), then open {url}")
    echo(f"  log in as: admin   password: {password}")
    echo(
        "  (generated now and stored only as an argon2 hash; `eis users add NAME --role supervisor --division D`"
        " adds more users)"
    )
    return {"url": url, "username": "admin", "password": password, "command": "make webapp"}


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "demo_step"]
