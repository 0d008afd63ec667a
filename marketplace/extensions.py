"""Extension objects, created unbound; ``create_app`` binds them to an app."""

from __future__ import annotations

import http
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from apispec import BasePlugin
from flask import Flask, current_app, g
from flask_babel import Babel
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_wtf import CSRFProtect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from marketplace.core.errors import PROBLEM_MIMETYPE
from marketplace.core.schemas import ProblemSchema
from marketplace.db import create_db_engine
from marketplace.web.security import api_rate_limit, api_rate_limit_key, outside_api


class CommonProblemsPlugin(BasePlugin):
    """Document the problems every API operation can answer besides its own: 401 (a malformed or unknown API key,
    whatever the operation), 429 (the API's rate limit) and, when it takes a body, 400 (a body that is not JSON)."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        """Add the common responses an operation does not list already."""
        if not path or not path.startswith("/api/") or not operations:
            return
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            common = [http.HTTPStatus.UNAUTHORIZED, http.HTTPStatus.TOO_MANY_REQUESTS]
            if "requestBody" in operation:
                common.append(http.HTTPStatus.BAD_REQUEST)
            for status in common:
                responses.setdefault(str(status.value), status.name)


class ProblemApi(Api):
    """flask-smorest, with every documented error response an RFC 9457 problem."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, **options: Any) -> None:
        options["extra_plugins"] = [*(options.get("extra_plugins") or ()), CommonProblemsPlugin()]
        super()._init_spec(**options)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE if status >= 400 else "application/json")
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An RFC 9457 problem naming what was wrong", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class Database:
    """One engine per app and one session per app context; only entry points commit."""

    def init_app(self, app: Flask) -> None:
        """Create the engine and the session factory for ``app``."""
        engine = create_db_engine(app.config["DATABASE_URL"], echo=app.config.get("DATABASE_ECHO", False))
        app.extensions["marketplace.db"] = {
            "engine": engine,
            "sessionmaker": sessionmaker(engine, expire_on_commit=False),
        }
        app.teardown_appcontext(self._remove_session)

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return current_app.extensions["marketplace.db"]["engine"]

    def bind(self, app: Flask, factory: sessionmaker[Session]) -> None:
        """Make ``app`` hand out sessions from ``factory`` (tests bind to a connection they roll back)."""
        app.extensions["marketplace.db"]["sessionmaker"] = factory

    @property
    def concurrent(self) -> bool:
        """Whether several threads may each open a transaction of their own: PostgreSQL, through the engine's pool
        (not SQLite's one writer, nor a factory bound to one connection, as the tests bind)."""
        factory = current_app.extensions["marketplace.db"]["sessionmaker"]
        bind = factory.kw.get("bind")
        return isinstance(bind, Engine) and bind.dialect.name == "postgresql"

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use."""
        if "db_session" not in g:
            g.db_session = current_app.extensions["marketplace.db"]["sessionmaker"]()
        return g.db_session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on error: the one commit of a job or CLI command."""
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    @staticmethod
    def _remove_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is None:
            return
        try:
            session.close()
        except sa.exc.DBAPIError as exc:
            # The database went away under this request (a restart, a failover): the rollback that closing sends
            # cannot reach it. The answer is already decided (a 503, or what the request did before); the dead
            # connection is dropped from the pool rather than turning the response into a 500.
            if not exc.connection_invalidated and not isinstance(exc, sa.exc.OperationalError):
                raise
            session.invalidate()


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Login attempts are limited per address on the login view; the whole API shares one budget per API key, user
# or address (API_RATE_LIMIT; a batch of 1,000 events is one request).
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    application_limits=[
        ApplicationLimit(api_rate_limit, key_function=api_rate_limit_key, scope="api", exempt_when=outside_api)
    ],
)
api = ProblemApi()
