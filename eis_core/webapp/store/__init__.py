"""Schema ``webapp``: users and roles, server-side sessions, login attempts and the access audit.

* ``users``          one row per person: username, role (``admin`` / ``analyst`` / ``supervisor``), the
                     supervisor's division, an argon2id password hash (never the password), disabled flag.
* ``sessions``       one row per logged-in browser: a random id (the cookie carries it, signed), the
                     user, the CSRF token, expiry.  Logout and disabling a user delete the rows, so a
                     copied cookie stops working at once.
* ``login_attempts`` every login attempt (username, client address, success) for throttling.
* ``access_audit``   who did what and when: every officer page view, every export, every review, every
                     model-group selection, logins and user changes.

Passwords are hashed with argon2id (argon2-cffi, memory-hard); there is no default password anywhere:
``eis users add`` and the demo generate one and print it once.
* ``model_comments`` the analysts' notes on a model.

The tables are created by the migrations (:mod:`eis_core.migrations`, revision 0004); nothing here runs
DDL.  One module per job: ``users`` (accounts and roles), ``logins`` (throttling, authentication,
sessions), ``audit`` (the access audit and model comments); their names are re-exported here
(``from eis_core.webapp import store``; ``store.add_user``, ``store.audit`` …).
"""

from eis_core.webapp.store.audit import *  # noqa: F401,F403
from eis_core.webapp.store.logins import *  # noqa: F401,F403
from eis_core.webapp.store.users import *  # noqa: F401,F403
