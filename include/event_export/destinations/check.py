"""Check a destination before anything is sent there: seed 003's "Save Credentials" step.

For a connection and a bucket or folder: are the credentials accepted, does the bucket or folder
exist, can a file be written there? A tiny probe object (`.ees-probe-<UTC time>-<random>`, a
name no export or client file has) is written under the export's prefix through the destination's
own upload and deleted again; probes left behind an hour ago or more are deleted first. A
failure's explanation and fix are the ones the failure emails carry
(`destinations/explanations.py`), and every export run does this check first (dag_builder's
`check_destination` task), so a client-side problem is found before any data is read.

Before the probe, the Airflow connection is looked up and must name what its type needs (a login
for sFTP and FTP, a folder for local): a provider hook would otherwise fall back silently (the
S3 hook to the worker's own AWS credentials, the Azure hook to the worker's identity, the FS hook
to the current folder). Problems with
the connection are SetupErrors: the same plain explanation and fix, for whoever keeps it. An
export with `encrypt` also has its OpenPGP key checked (pipeline/encrypt.py): present, a public
key, able to encrypt, not expired; a problem there is a SetupError too, never a client email.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from event_export.config.model import Destination as DestinationConfig
from event_export.config.model import Encrypt
from event_export.destinations import ClientSideError, destination_for, explanations
from event_export.destinations.base import PROBE_STEPS, describe_error, error_chain
from event_export.destinations.errors import SetupError

log = logging.getLogger(__name__)
LABELS = {
    "credentials": "credentials accepted",
    "location": "{place} exists",
    "write": "probe written",
    "delete": "probe deleted",
}
KEY_STEP = "encryption key usable"  # after the probe's steps, for an export with `encrypt`
KEY_RENEWAL = timedelta(days=30)  # a passing check asks for a new key this long before expiry
# Exceptions (by class name, from several client libraries) that mean "nobody answered".
UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ConnectionError",
    "NoValidConnectionsError",
    "gaierror",
    "TimeoutError",
    "timeout",
    "ConnectionRefusedError",
    "ServiceRequestError",  # azure-core: the request never got an answer
}


@dataclass(frozen=True)
class CheckResult:
    """The check's answer, for a page, the CLI or a task; `error` is what the first failure
    raised (not serialised: the task re-raises it)."""

    ok: bool
    code: str  # "ok", a ClientSideError or SetupError code, "unreachable", "internal"
    explanation: str
    fix: str
    steps: list[tuple[str, bool]]
    error: Exception | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "code": self.code,
            "explanation": self.explanation,
            "fix": self.fix,
            "steps": [{"step": step, "passed": passed} for step, passed in self.steps],
        }

    @property
    def blocks_delivery(self) -> bool:
        """Whether an export run must stop here. A retention policy that kept the probe from
        being deleted does not: new files can still be written, only replacing them (a rerun)
        fails, and stopping a client's export over a policy they chose would be wrong."""
        written = self.steps[PROBE_STEPS.index("write")][1]
        return not self.ok and not (self.code == "retention_policy" and written)

    def raise_if_failed(self) -> None:
        """Raise what failed: a ClientSideError goes to the failure policy, anything else is
        ours (retried, on-call)."""
        if self.error is not None:
            raise self.error


def validated(given: DestinationConfig | Mapping, prefix_hint: str | None = None):
    """The validated destination, its path replaced by `prefix_hint` when one is given (the
    export's future prefix, before any config names it)."""
    data = dict(given) if isinstance(given, Mapping) else given.model_dump()
    if prefix_hint is not None:
        data["path"] = prefix_hint
    return TypeAdapter(DestinationConfig).validate_python(data)


def check_destination(
    destination_config: DestinationConfig | Mapping,
    prefix_hint: str | None = None,
    encrypt: Encrypt | None = None,
) -> CheckResult:
    """Probe a destination (a config's `destination`, or the same fields as a dict) and, for an
    export with `encrypt`, the client's OpenPGP key; never raises for what the destination
    answers (see CheckResult). An invalid dict raises pydantic's ValidationError."""
    config = validated(destination_config, prefix_hint)
    result = _probe(config)
    return result if encrypt is None else _with_key(result, encrypt)


def _probe(config) -> CheckResult:
    place = {"s3": "bucket", "gcs": "bucket", "azure": "container"}.get(config.type, "folder")
    passed: list[str] = []

    def steps() -> list[tuple[str, bool]]:
        return [(LABELS[s].format(place=place), s in passed) for s in PROBE_STEPS]

    try:
        _check_connection(config)
        destination_for(config).probe(passed.append)
    except SetupError as exc:
        return CheckResult(False, exc.code, exc.explanation, exc.fix, steps(), exc)
    except ClientSideError as exc:
        if exc.code != "auth_failed" and "credentials" not in passed:
            passed.insert(0, "credentials")  # the store knew us and refused something else
        return CheckResult(False, exc.code, exc.explanation, exc.fix, steps(), exc)
    except Exception as exc:
        code, explanation, fix = _ours(exc, config.conn_id)
        return CheckResult(False, code, explanation, fix, steps(), exc)
    return CheckResult(
        True,
        "ok",
        f"The credentials were accepted, the {place} exists, and a file could be written there "
        "and deleted again.",
        "",
        steps(),
    )


def _with_key(result: CheckResult, encrypt: Encrypt) -> CheckResult:
    """The probe's result with the key's step after it: the probe's failure first (what the
    client sees), else the key's (a SetupError: the connection is ours to keep right)."""
    from event_export.pipeline.encrypt import check_key

    conn_id = encrypt.pgp_public_key_conn_id
    try:
        key = check_key(conn_id)
    except SetupError as exc:
        failure: tuple[str, str, str] | None = (exc.code, exc.explanation, exc.fix)
        error: Exception | None = exc
    except Exception as exc:
        failure, error = _ours(exc, conn_id), exc
    else:
        failure = error = None
    steps = [*result.steps, (KEY_STEP, failure is None)]
    if not result.ok:
        return replace(result, steps=steps)
    if failure is not None:
        return CheckResult(False, *failure, steps, error)
    until = f", valid until {key.expires:%Y-%m-%d}" if key.expires else ""
    explanation = f"{result.explanation} Files are encrypted to the client's OpenPGP key{until}."
    fix = result.fix
    if key.expires and key.expires - datetime.now(UTC) < KEY_RENEWAL:
        fix = "Ask the client for a renewed key before it expires: files cannot be sent after."
    return replace(result, explanation=explanation, fix=fix, steps=steps)


def check_before_run(
    destination_config: DestinationConfig | Mapping, encrypt: Encrypt | None = None
) -> dict[str, Any]:
    """The check as an export run's first task does it: raise what blocks delivery (a
    ClientSideError goes to the failure policy), log a warning for what only blocks reruns."""
    result = check_destination(destination_config, encrypt=encrypt)
    if result.blocks_delivery:
        result.raise_if_failed()
    elif not result.ok:
        log.warning("Destination check: %s %s", result.explanation, result.fix)
    return result.to_dict()


def _check_connection(config) -> None:
    """Raise a SetupError when the connection is missing or lacks what its type needs."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(config.conn_id)
    except AirflowNotFoundException:
        raise explanations.connection_missing(config.conn_id) from None
    kind = "ftps" if config.type == "ftp" and config.ftps else config.type
    if kind in ("sftp", "ftp", "ftps") and not connection.login:
        raise explanations.credentials_missing(kind, config.conn_id, "no login (username)")
    if kind in ("ftp", "ftps") and not connection.password and connection.login != "anonymous":
        raise explanations.credentials_missing(kind, config.conn_id, "no password")
    if kind == "s3":
        _check_aws(connection, config.conn_id)
    if kind == "gcs" and not any(_gcp_extra(connection, k) for k in GCP_KEY_EXTRAS):
        raise explanations.credentials_missing("gcs", config.conn_id)
    if kind == "azure":
        _check_azure(connection, config.conn_id)
    if kind == "local" and not connection.extra_dejson.get("path"):
        raise explanations.credentials_missing(
            kind, config.conn_id, "no extra path (the folder exports go to)"
        )


# What a `wasb` connection may authenticate with (the WasbHook's order); without any, the hook
# would use DefaultAzureCredential: whatever identity the worker itself has. A managed identity
# named in the extra is such an identity chosen on purpose.
AZURE_KEY_EXTRAS = (
    "connection_string",
    "shared_access_key",
    "sas_token",
    "account_key",
    "managed_identity_client_id",
    "workload_identity_tenant_id",
)


def _check_azure(connection, conn_id: str) -> None:
    extra = connection.extra_dejson

    def given(name: str) -> bool:
        return bool(extra.get(name) or extra.get(f"extra__wasb__{name}"))

    if given("tenant_id") and not (connection.login and connection.password):
        raise explanations.credentials_missing(
            "azure", conn_id, "a tenant_id but no client id (login) and secret (password)"
        )
    if not connection.password and not any(given(k) for k in (*AZURE_KEY_EXTRAS, "tenant_id")):
        raise explanations.credentials_missing("azure", conn_id)
    sas_url = str(extra.get("sas_token") or "").startswith("https")  # names the account itself
    if not (given("connection_string") or sas_url or connection.host or connection.login):
        raise explanations.credentials_missing(
            "azure", conn_id, "no storage account (login) or account URL (host)"
        )


# Ways an `aws` connection names who it is besides login/password; without any, the S3 hook would
# use whatever credentials the worker itself has (its environment, its instance role).
AWS_IDENTITY_EXTRAS = ("aws_access_key_id", "role_arn", "profile_name", "aws_session_token")


def _check_aws(connection, conn_id: str) -> None:
    extra = connection.extra_dejson
    if connection.login and not connection.password:
        raise explanations.credentials_missing("s3", conn_id, "an access key id but no secret")
    if not connection.login and not any(extra.get(k) for k in AWS_IDENTITY_EXTRAS):
        raise explanations.credentials_missing("s3", conn_id)


# Where a google_cloud_platform connection holds its key (or says, as the compose demo's stand-in
# does, that it needs none); without one the hook would use the machine's own Application Default
# Credentials.
GCP_KEY_EXTRAS = (
    "keyfile_dict",
    "key_path",
    "key_secret_name",
    "credential_config_file",
    "is_anonymous",
)


def _gcp_extra(connection, name: str) -> bool:
    extra = connection.extra_dejson
    value = extra.get(name) or extra.get(f"extra__google_cloud_platform__{name}")
    return str(value).lower() == "true" if name == "is_anonymous" else bool(value)


def _ours(exc: Exception, conn_id: str) -> tuple[str, str, str]:
    """Code, explanation and fix of a failure that is not the client's answer."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    chain = list(error_chain(exc))
    if any(isinstance(e, AirflowNotFoundException) for e in chain):
        missing = explanations.connection_missing(conn_id)
        return missing.code, missing.explanation, missing.fix
    if any(type(e).__name__ in UNREACHABLE or isinstance(e, socket.gaierror) for e in chain):
        return (
            "unreachable",
            f"The destination did not answer ({describe_error(exc)}).",
            "Check the host, port or endpoint in the connection and that the server accepts "
            "connections from the export workers, then check again.",
        )
    return (
        "internal",
        f"The check failed for a reason on our side ({describe_error(exc)}).",
        "Nothing to change in your storage: on-call has to look at this message.",
    )
