"""Airflow plugin: the Exports page (a FastAPI app at /ees) and its entry in the UI's navigation.

Thin on purpose: the app and everything behind it live in `event_export.ui.exports_api`.
"""

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin
from event_export.ui.exports_api import app

URL_PREFIX = "/ees"


class ExportsPlugin(AirflowPlugin):
    name = "event_export_scheduler"
    fastapi_apps: ClassVar[list[dict]] = [{"app": app, "url_prefix": URL_PREFIX, "name": "Exports"}]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Exports",
            # relative to the UI's base URL; the UI shows it in an iframe at /plugin/exports
            "href": "ees/",
            "url_route": "exports",
            "destination": "nav",
            "category": "browse",
        }
    ]
