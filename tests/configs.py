"""Export configs built in code for tests: the smallest valid config around a given schedule."""

from event_export.config.model import ExportConfig


def schedule_config(**schedule) -> ExportConfig:
    """Export `acme` of client `acme` to a local folder, with `schedule` as given."""
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme",
            "schedule": schedule,
            "destination": {"type": "local", "conn_id": "c"},
        }
    )
