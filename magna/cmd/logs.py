"""How the server commands (``magna serve``, ``magna db upgrade``, ``magna-api``,
``magna-conductor``) set up Python logging, in one place.

Without an operator's file, records go to stderr at INFO, except Alembic's and httpx's: a
start-up that applies migrations printed a dozen Alembic lines (and two more on every start
after), and httpx one line per API call a dashboard page makes, which said nothing a user acts
on. They stay at WARNING unless ``debug`` is asked for. With
``[DEFAULT] log_config_file`` the operator's file (``logging.config.fileConfig`` format)
decides everything, Alembic's and uvicorn's loggers included.
"""

from __future__ import annotations

import logging
import logging.config
import sys

from oslo_config import cfg

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# NOTE: the loggers whose INFO lines are the library's bookkeeping, not Magna's news.
# httpx logs one INFO line per request: the dashboard's every call to the API in process,
# and the Keystone validations, beside uvicorn's own access line.
QUIET_BY_DEFAULT = ("alembic", "httpx")


def configure(conf: cfg.ConfigOpts, *, debug: bool = False) -> None:
    """Logging for one server process, as ``conf`` and ``debug`` say."""
    if conf.log_config_file:
        logging.config.fileConfig(conf.log_config_file, disable_existing_loggers=False)
        return
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, stream=sys.stderr,
                        format=FORMAT)
    for name in QUIET_BY_DEFAULT:
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)

