"""Destinations: one small module per kind of client storage, behind one interface."""

from __future__ import annotations

from event_export.config.model import Destination as DestinationConfig
from event_export.destinations.base import Destination, RemoteFile
from event_export.destinations.errors import ClientSideError, DeliveryError, VerificationError


def destination_for(config: DestinationConfig) -> Destination:
    """The destination a config names, built from its Airflow connection.

    Each kind's module (and its provider) is imported only when an export uses it.
    """
    if config.type == "local":
        from event_export.destinations.local import LocalDestination

        return LocalDestination.from_connection(config.conn_id, config.path)
    if config.type == "s3":
        from event_export.destinations.s3 import S3Destination

        return S3Destination.from_config(config)
    if config.type == "gcs":
        from event_export.destinations.gcs import GCSDestination

        return GCSDestination.from_config(config)
    if config.type == "azure":
        from event_export.destinations.azure import AzureBlobDestination

        return AzureBlobDestination.from_config(config)
    if config.type == "sftp":
        from event_export.destinations.sftp import SFTPDestination

        return SFTPDestination.from_config(config)
    if config.type == "ftp":
        from event_export.destinations.ftp import FTPDestination

        return FTPDestination.from_config(config)
    raise ValueError(f"unsupported destination type {config.type!r}")


__all__ = [
    "ClientSideError",
    "DeliveryError",
    "Destination",
    "RemoteFile",
    "VerificationError",
    "destination_for",
]
