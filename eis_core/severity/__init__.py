"""Crime-report severity: predict HIGH / MEDIUM / LOW when a report is filed, serve it over HTTP,
retrain it daily from the outcomes that arrive, and monitor it (F1, drift, per-division F1).

Modules: ``features`` (the model frame, point-in-time beat history), ``model`` (pipeline, baselines,
metrics), ``registry`` (model files in the artifact store + schema ``severity``), ``store`` (DDL and writes), ``api``
(FastAPI app factory; ``schemas`` its request/response bodies, ``service`` its state and prediction log), ``tokens`` (hashed API tokens), ``retrain`` (champion/challenger),
``monitoring`` (PSI, daily metrics, alerts), ``cli`` (``eis severity`` / ``eis tokens``), ``demo``.
See docs/severity.md.
"""

SEVERITIES = ("HIGH", "MEDIUM", "LOW")
