"""Destinations: one small module per kind of client storage, behind one interface."""

from __future__ import annotations

from event_export.config import Destination as DestinationConfig
from event_export.destinations.base import Destination, RemoteFile
from event_export.destinations.errors import ClientSideError, DeliveryError, VerificationError


def destination_for(config: DestinationConfig) -> Destination:
    """The destination a config names, built from its Airflow connection."""
    if config.type == "local":
        from event_export.destinations.local import LocalDestination

        return LocalDestination.from_connection(config.conn_id, config.path)
    raise ValueError(f"unsupported destination type {config.type!r}")


__all__ = [
    "ClientSideError",
    "DeliveryError",
    "Destination",
    "RemoteFile",
    "VerificationError",
    "destination_for",
]
