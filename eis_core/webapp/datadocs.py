"""The Great Expectations Data Docs inside the web app: where the site is, the list of its validation
pages, and serving its files as untrusted content (only known types, only under the site folder, CDN
assets stripped; the sandboxing CSP itself is the gate's, :mod:`eis_core.webapp.security`)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import Response


def data_docs_dir() -> Path:
    from eis_core.paths import gx_dir

    return gx_dir() / "uncommitted" / "data_docs" / "local_site"


DATA_DOCS_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png",
                   ".gif": "image/gif", ".jpg": "image/jpeg", ".svg": "image/svg+xml", ".ico": "image/x-icon",
                   ".otf": "font/otf", ".ttf": "font/ttf", ".woff": "font/woff", ".woff2": "font/woff2",
                   ".json": "application/json"}
EXTERNAL_ASSET = re.compile(rb"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script\s*>|"""
                            rb"""<(?:link|img)\b[^>]*\b(?:href|src)\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
DATA_DOCS_STYLESHEET = b'<link rel="stylesheet" href="/static/data-docs.css">'


def data_docs_reports(root: Path, limit: int = 60) -> list[dict]:
    """The validation pages of the Data Docs site, newest first: GE's own index lists them only through
    JavaScript, which the sandbox does not run, so the data-quality page lists them itself (escaped)."""
    base = root / "validations"
    if not base.is_dir():
        return []
    out = []
    for page in base.glob("*/*/*/*.html"):  # validations/<suite>/<run name>/<run time>/<batch>.html
        rel = page.relative_to(root)
        suite, _run, run_time = rel.parts[1:4]
        out.append({"href": "/data-docs/" + "/".join(quote(p) for p in rel.parts), "suite": suite,
                    "run_time": run_time, "batch": page.stem})
    out.sort(key=lambda r: r["run_time"], reverse=True)
    return out[:limit]


def data_docs_response(root: Path, path: str) -> Response:
    from fastapi.responses import FileResponse

    root = root.resolve()
    target = (root / (path or "index.html")).resolve()
    if target != root and root not in target.parents:
        raise HTTPException(404, "not a Data Docs file")
    if target.is_dir():
        target = target / "index.html"
    kind = DATA_DOCS_TYPES.get(target.suffix.lower())
    if kind is None or not target.is_file():
        raise HTTPException(404, "no such Data Docs page (the docs are built by the loader)")
    if target.suffix.lower() != ".html":
        return FileResponse(target, media_type=kind)
    # the CDN assets (and GE's tracking logo) would be blocked by the CSP anyway; drop them so that the
    # browser does not even try (this is tidying, not the security boundary: the CSP is)
    body = EXTERNAL_ASSET.sub(b"", target.read_bytes())
    head = body.lower().find(b"</head>")
    body = (body[:head] + DATA_DOCS_STYLESHEET + body[head:]) if head >= 0 else DATA_DOCS_STYLESHEET + body
    return Response(body, media_type=kind)

