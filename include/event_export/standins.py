"""Create the buckets the deployment names, where missing: for the compose demo's stand-ins.

The S3, GCS and Azure stand-ins of docker-compose.yaml start empty. The init service runs
`python -m event_export.standins` once: it creates the staging bucket (EES_STAGING_URI) and every
bucket (or Azure container) a shipped export delivers to, through the same connections the tasks
use. Real client buckets are the clients' to create; this is for local stand-ins only.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from event_export.config.model import load_all
from event_export.pipeline.staging import parse_s3_uri
from event_export.settings import exports_dir, staging_conn_id, staging_uri

log = logging.getLogger(__name__)

WAIT_SECONDS = 60  # the stand-ins may still be starting


def needed_buckets(exports: Path) -> set[tuple[str, str, str]]:
    """(type, conn_id, bucket) of staging and of every export's s3/gcs bucket or azure
    container."""
    found = set()
    uri = staging_uri()
    if uri:
        found.add(("s3", staging_conn_id(), parse_s3_uri(uri)[0]))
    good, _ = load_all(exports)
    for config in good.values():
        destination = config.destination
        if destination.type in ("s3", "gcs"):
            found.add((destination.type, destination.conn_id, destination.bucket))
        if destination.type == "azure":
            found.add(("azure", destination.conn_id, destination.container))
    return found


def ensure_bucket(kind: str, conn_id: str, bucket: str) -> bool:
    """Create `bucket` unless it exists; True when it was created."""
    if kind == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=conn_id)
        if hook.check_for_bucket(bucket):
            return False
        hook.create_bucket(bucket)
        return True
    if kind == "azure":
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        container = WasbHook(wasb_conn_id=conn_id).get_conn().get_container_client(bucket)
        if container.exists():
            return False
        container.create_container()
        return True
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    client = GCSHook(gcp_conn_id=conn_id).get_conn()
    if client.lookup_bucket(bucket) is not None:
        return False
    client.create_bucket(bucket)
    return True


def ensure_all(exports: Path, wait: float = WAIT_SECONDS) -> list[str]:
    """Create every missing bucket, retrying while the stand-ins start; returns what it made."""
    created = []
    for kind, conn_id, bucket in sorted(needed_buckets(exports)):
        deadline = time.monotonic() + wait
        while True:
            try:
                if ensure_bucket(kind, conn_id, bucket):
                    created.append(f"{kind}://{bucket}")
                break
            except Exception as exc:  # a stand-in not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot reach {kind}://{bucket} ({conn_id})") from exc
                log.info("waiting for %s://%s: %s", kind, bucket, exc)
                time.sleep(2)
    return created


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    made = ensure_all(exports_dir())
    print("buckets created:", ", ".join(made) or "none (all exist)")
    sys.exit(0)
