"""Extension objects, created unbound; ``create_app`` binds them to an app."""

from __future__ import annotations

import http
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from flask_babel import Babel
from flask_limiter import Limiter
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


class ProblemApi(Api):
    """flask-smorest, with every documented error response an RFC 9457 problem."""

    ERROR_SCHEMA = ProblemSchema

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
        if session is not None:
            session.close()


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
api = ProblemApi()
