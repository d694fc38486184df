"""The trigger form of one-time exports: Airflow Params the UI renders and checks with jsonschema.

The form checks shapes (a known period, ISO dates); the rules that depend on today (whole days,
within the last 60) are checked by the run's first task, which refuses with a plain message.
"""

from __future__ import annotations

from airflow.sdk import Param

from event_export.scheduling.schedules import ONE_TIME_MAX_AGE_DAYS, ONE_TIME_MODES


def one_time_params() -> dict[str, Param]:
    section = "What to export"
    return {
        "period": Param(
            "day",
            type="string",
            enum=list(ONE_TIME_MODES),
            title="Period",
            description=(
                "day: one day; date_range: date_from to date_to; previous_month; current_month "
                f"(up to yesterday). Everything must lie within the last {ONE_TIME_MAX_AGE_DAYS} "
                "days, in the export's time zone."
            ),
            section=section,
        ),
        "day": _date_param("Day (for period 'day')", section),
        "date_from": _date_param("First day (for period 'date_range')", section),
        "date_to": _date_param("Last day, included (for period 'date_range')", section),
    }


def _date_param(title: str, section: str) -> Param:
    """An optional ISO date field: empty keeps the form valid for periods that don't use it."""
    return Param(None, type=["null", "string"], format="date", title=title, section=section)
