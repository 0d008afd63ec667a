"""Seller accountability for open marketplaces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers, commands."""
    import marketplace.models  # noqa: F401 - every table registered before the mappers configure
    from marketplace.config import load_config
    from marketplace.web.converters import IdConverter, IsoDateConverter

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path, config))
    app.url_map.converters["isodate"] = IsoDateConverter
    app.url_map.converters["int"] = IdConverter

    register_extensions(app)
    register_template_helpers(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extension objects to ``app``."""
    from marketplace.extensions import api, babel, csrf, db, limiter, login_manager
    from marketplace.web.i18n import select_locale, select_timezone
    from marketplace.web.session import load_user

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth_web.login"
    login_manager.session_protection = "strong"
    api.init_app(app)
    from marketplace.web.converters import IsoDateConverter

    api.register_converter(IsoDateConverter, lambda _converter: {"type": "string", "format": "date"})


def register_template_helpers(app: Flask) -> None:
    """Filters and globals for the pages."""
    from marketplace.web.templating import register

    register(app)


def register_blueprints(app: Flask) -> None:
    """Pages, API and API docs."""
    from flask_swagger_ui import get_swaggerui_blueprint

    from marketplace.claims.api import blp as claims_api
    from marketplace.claims.views import claims_buyer, claims_seller, claims_staff
    from marketplace.compensation.api import blp as compensation_api
    from marketplace.compensation.views import compensation_buyer, compensation_seller, compensation_staff
    from marketplace.core.api import blp as core_api
    from marketplace.core.views import core_staff
    from marketplace.extensions import api, csrf
    from marketplace.incidents.api import blp as incidents_api
    from marketplace.incidents.views import incidents_staff
    from marketplace.notifications.views import notifications_inbox, notifications_staff
    from marketplace.orders.api import blp as orders_api
    from marketplace.sanctions.api import blp as sanctions_api
    from marketplace.sanctions.views import sanctions_seller, sanctions_staff
    from marketplace.scorecard.api import blp as scorecard_api
    from marketplace.scorecard.views import scorecard_seller, scorecard_staff
    from marketplace.web.views import auth_web, home_web

    for blueprint in (
        auth_web,
        home_web,
        core_staff,
        claims_staff,
        claims_seller,
        claims_buyer,
        compensation_staff,
        compensation_seller,
        compensation_buyer,
        incidents_staff,
        notifications_staff,
        notifications_inbox,
        sanctions_staff,
        sanctions_seller,
        scorecard_staff,
        scorecard_seller,
    ):
        app.register_blueprint(blueprint)
    for blueprint in (core_api, orders_api, claims_api, compensation_api, incidents_api, sanctions_api, scorecard_api):
        # The API authenticates with Bearer keys; session callers are CSRF-checked in api_actor().
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    docs = get_swaggerui_blueprint(
        "/api/docs", "/api/openapi.json", config={"app_name": app.config["API_TITLE"]}, blueprint_name="api_docs"
    )
    csrf.exempt(docs)
    app.register_blueprint(docs)


def register_error_handlers(app: Flask) -> None:
    """problem+json for the API, pages for people."""
    from marketplace.web.errors import register

    register(app)


def register_security(app: Flask) -> None:
    """Security headers on every response; input no database can store refused up front."""
    from marketplace.web.input import refuse_nul_characters
    from marketplace.web.security import register

    register(app)
    app.before_request(refuse_nul_characters)


def register_commands(app: Flask) -> None:
    """The ``marketplace`` command's groups."""
    from marketplace.cli import register

    register(app)
