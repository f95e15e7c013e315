"""The web app's reads (and its one write to the warehouse, a review).  Every statement is a constant
with ``%s`` parameters; identifiers are never built from request input.  Tables written by other
parts of the platform that may not exist yet are checked with ``to_regclass`` first (empty states).

One module per area (``base`` helpers and the bias rule, ``risk`` production lists and officer scores,
``officer`` events and timeline, ``models`` results, ``ops`` data quality and side jobs); the routers use
them through this package (``from eis_core.webapp import queries as q``)."""

from eis_core.webapp.queries.base import *  # noqa: F401,F403
from eis_core.webapp.queries.models import *  # noqa: F401,F403
from eis_core.webapp.queries.officer import *  # noqa: F401,F403
from eis_core.webapp.queries.ops import *  # noqa: F401,F403
from eis_core.webapp.queries.risk import *  # noqa: F401,F403
