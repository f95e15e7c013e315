"""Calls-for-service and stops forecasting, peak times and call-priority prediction (issue 7).

Modules: ``data`` (hourly/daily series from the warehouse or a drop), ``models`` (seasonal-naive,
seasonal moving average, MSTL, gradient boosting), ``backtest`` (metrics, rolling origins, model
choice), ``store`` (schema ``forecast``), ``run`` (the end-to-end jobs), ``peaks`` (busiest hours),
``priority`` (priority-band classifier and weekday/weekend analysis), ``importers`` (San Diego open
data -> contract drop) and ``cli``.  See docs/forecasting.md.
"""
