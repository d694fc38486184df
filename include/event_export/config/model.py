"""The export config: one YAML file per export, validated into a typed model.

A broken file must fail alone and say which file and which field, so loading returns the good
configs and the errors side by side instead of raising on the first bad file.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from event_export.config import collisions, object_keys, yaml_reader
from event_export.config import path_template as templates
from event_export.config.yaml_reader import ConfigProblem, describe, printable, unsafe_character

IDENTIFIER = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DAG_ID_PREFIX = "export_"  # an export's DAG id is this + its export_id (dag_id_for)
NAME_PART = r"^[A-Za-z0-9_]{1,40}$"  # one '-'-separated part of a gcp_export file name
GCP_ONLY = (
    "identity_priority",
    "values_as_strings",
    "chunk_size_mb",
    "parquet_compression",
    "compression",
    "path_template",
    "database_id",
    "account_id",
)
S3_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
GCS_BUCKET = r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$"
AZURE_CONTAINER = r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*): (.+)$", re.DOTALL)  # "field: message"
URI_SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "az"}  # a destination's location: az:// as adlfs
CONFIG_SUFFIXES = (".yaml", ".yml")
EARLIEST_START = date(2000, 1, 1)


def _no_control(value: object) -> object:
    """Strings that become paths or names: no NUL, C0/C1 control, bidi or separator character.
    (Checked before the type's own rules, so those keep their usual messages.)"""
    if isinstance(value, str) and (found := unsafe_character(value)):
        raise ValueError(
            f"contains the control or bidi character {describe(found[1])} at position "
            f"{found[0] + 1}; remove it"
        )
    return value


NO_CONTROL = BeforeValidator(_no_control)
SafeText = Annotated[str, NO_CONTROL]
Nickname = Annotated[str, StringConstraints(min_length=1, max_length=60), NO_CONTROL]


def _no_control_but_lines(value: object) -> object:
    """Free text (description): line breaks and tabs allowed, other controls not."""
    if isinstance(value, str) and (found := unsafe_character(value, allowed="\t\n")):
        raise ValueError(f"contains the control or bidi character {describe(found[1])}")
    return value


def dag_id_for(export_id: str) -> str:
    """The DAG id of an export (also of a broken config's would-be export)."""
    return f"{DAG_ID_PREFIX}{export_id}"


def latest_start(today: date | None = None) -> date:
    """The latest start date a config may name: a year from today (UTC)."""
    today = today or datetime.now(UTC).date()
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _DestinationBase(_Strict):
    """Where files go. Credentials and hosts live in the Airflow connection, never here."""

    conn_id: SafeText = Field(
        min_length=1,
        max_length=250,
        description="Airflow connection id holding the location and the credentials.",
    )
    path: SafeText = Field(
        default="",
        max_length=1024,
        description="Folder (or bucket prefix) under the connection's root; no '..' segments.",
    )
    nickname: Nickname | None = Field(
        default=None,
        description="Short name shown on the Exports page, e.g. 'EU archive'; a client may "
        "have several destinations, each with its own nickname.",
    )

    @field_validator("path")
    @classmethod
    def _no_escape(cls, value: str) -> str:
        parts = [p for p in value.replace("\\", "/").split("/") if p]
        if any(p == ".." for p in parts):
            raise ValueError("must not contain '..'")
        if any(len(p.encode()) > 255 for p in parts):
            raise ValueError("each folder name is at most 255 bytes (UTF-8)")
        return "/".join(parts)

    @model_validator(mode="after")
    def _keys_fit(self) -> _DestinationBase:
        """A store's key limit leaves room for any file name under `path` (object_keys.py)."""
        if problem := object_keys.path_problem(self.type, self.path):  # type: ignore[attr-defined]
            raise ValueError(problem)
        return self

    @property
    def location(self) -> str:
        """Where files land, as a URI without secrets: bucket for stores, connection id else."""
        scheme = URI_SCHEMES.get(self.type, self.type)  # type: ignore[attr-defined]
        root = self._store or self.conn_id
        return f"{scheme}://{root}/{self.path}".rstrip("/")

    @property
    def display_name(self) -> str:
        """The nickname, else the bucket (container), else the connection id."""
        return self.nickname or self._store or self.conn_id

    @property
    def _store(self) -> str | None:
        return getattr(self, "bucket", None) or getattr(self, "container", None)


def _bucket_name(value: str, pattern: str, longest: int) -> str:
    if not re.match(pattern, value):
        raise ValueError(
            f"{value!r} is not a bucket name: 3-{longest} lower-case letters, digits, dots or "
            "hyphens, starting and ending with a letter or digit (just the name, no gs:// or s3://)"
        )
    return value


class LocalDestinationConfig(_DestinationBase):
    """A folder under an `fs` connection's root: development and the demo."""

    type: Literal["local"] = Field(description="Destination kind.")


class S3DestinationConfig(_DestinationBase):
    """An S3 (or S3-compatible) bucket, through an `aws` connection."""

    type: Literal["s3"] = Field(description="Destination kind.")
    bucket: str = Field(
        json_schema_extra={"pattern": S3_BUCKET}, description="Bucket name (3-63 characters)."
    )
    sse: Literal["none", "s3", "kms"] = Field(
        default="none",
        description="Server-side encryption: none (bucket default), s3 (SSE-S3) or kms (SSE-KMS).",
    )
    kms_key_id: SafeText | None = Field(
        default=None,
        min_length=1,
        description="KMS key id or ARN for sse: kms; the account's aws/s3 key when omitted.",
    )

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        return _bucket_name(value, S3_BUCKET, 63)

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> S3DestinationConfig:
        if self.kms_key_id and self.sse != "kms":
            raise ValueError("kms_key_id: only allowed with sse: kms")
        return self


class GCSDestinationConfig(_DestinationBase):
    """A Google Cloud Storage bucket, through a `google_cloud_platform` connection."""

    type: Literal["gcs"] = Field(description="Destination kind.")
    bucket: str = Field(json_schema_extra={"pattern": GCS_BUCKET}, description="Bucket name.")

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        return _bucket_name(value, GCS_BUCKET, 222)


class AzureDestinationConfig(_DestinationBase):
    """An Azure Blob Storage container, through a `wasb` connection (the storage account, its
    key, a SAS token or a service principal live there)."""

    type: Literal["azure"] = Field(description="Destination kind.")
    container: str = Field(
        json_schema_extra={"pattern": AZURE_CONTAINER},
        description="Container name (3-63 characters) in the connection's storage account.",
    )

    @field_validator("container")
    @classmethod
    def _container_name(cls, value: str) -> str:
        if not re.match(AZURE_CONTAINER, value):
            raise ValueError(
                f"{value!r} is not a container name: 3-63 lower-case letters, digits or single "
                "hyphens, starting and ending with a letter or digit (just the name, no URL)"
            )
        return value


class SFTPDestinationConfig(_DestinationBase):
    """A folder on an sFTP server, through an `sftp` connection (host key checked)."""

    type: Literal["sftp"] = Field(description="Destination kind.")


class FTPDestinationConfig(_DestinationBase):
    """A folder on an FTP server, through an `ftp` connection; `ftps: true` for FTP over TLS."""

    type: Literal["ftp"] = Field(description="Destination kind.")
    ftps: bool = Field(default=False, description="Use FTPS (explicit TLS, certificate checked).")


Destination = Annotated[
    LocalDestinationConfig
    | S3DestinationConfig
    | GCSDestinationConfig
    | AzureDestinationConfig
    | SFTPDestinationConfig
    | FTPDestinationConfig,
    Field(discriminator="type"),
]
DESTINATION_TYPES = ("local", "s3", "gcs", "azure", "sftp", "ftp")
# the choices of a few fields, named once: the Exports page's filters and `ees` offer the same
Frequency = Literal["daily", "recurring", "one_time"]
Kind = Literal["all_events", "selected_events", "user_profiles"]
Format = Literal["csv", "json", "xml", "parquet"]
FREQUENCIES: tuple[str, ...] = get_args(Frequency)
KINDS: tuple[str, ...] = get_args(Kind)
FORMATS: tuple[str, ...] = get_args(Format)


class Schedule(_Strict):
    """When the export runs, what each run covers, and by when its files must be delivered."""

    frequency: Frequency = Field(
        default="daily",
        description=(
            "daily: the previous calendar day, every local midnight. recurring: local blocks "
            "[midnight + k*every_hours, + every_hours), each run when its block ends (the day's "
            "last block is shorter when every_hours does not divide 24). one_time: never "
            "scheduled; each run "
            "is triggered from the Airflow UI form with a day, a date range, the previous or the "
            "current month, within the last 60 days."
        ),
    )
    every_hours: int | None = Field(
        default=None,
        ge=4,
        le=24,
        description=(
            "recurring only: N (4 to 24): local blocks of N hours from local midnight, one run "
            "per block."
        ),
    )
    timezone: SafeText = Field(default="UTC", description="IANA time zone of the client's day.")
    deadline: time = Field(
        default=time(7, 0),
        description="daily only: local time on the next day by which a run must be delivered.",
    )
    start_date: date = Field(
        default=date(2026, 1, 1),
        description="First day the export may cover: from 2000-01-01 to a year from today.",
    )
    enabled: bool = Field(
        default=True,
        description=(
            "false stops the export: its DAG is created paused and tagged `stopped`; "
            "it can still be started from the UI by someone who knows why it was stopped."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("start_date", "deadline", mode="before")
    @classmethod
    def _written_as_text(cls, value: object) -> object:
        """A bare number would be read as seconds (a Unix time, or seconds after midnight)."""
        if isinstance(value, int | float):
            raise ValueError('write it as text: start_date YYYY-MM-DD, deadline "HH:MM"')
        if isinstance(value, str) and re.fullmatch(r"\d:[0-5]\d(:[0-5]\d)?", value):
            return f"0{value}"  # 7:30, which YAML 1.1 alone reads as the number 450
        return value

    @field_validator("start_date")
    @classmethod
    def _sane_start(cls, value: date) -> date:
        latest = latest_start()
        if not EARLIEST_START <= value <= latest:
            raise ValueError(
                f"{value.isoformat()} is out of range: use a date from "
                f"{EARLIEST_START.isoformat()} to {latest.isoformat()} (a year from today)"
            )
        return value

    @model_validator(mode="after")
    def _hours_match_frequency(self) -> Schedule:
        if self.frequency == "recurring" and self.every_hours is None:
            raise ValueError("every_hours: required for frequency recurring (4 to 24)")
        if self.frequency != "recurring" and self.every_hours is not None:
            raise ValueError("every_hours: only allowed with frequency recurring")
        return self


NOTIFY_EVENTS = ("delivered", "failed", "deadline_missed", "stopped", "schema_changed")
NotifyEvent = Literal["delivered", "failed", "deadline_missed", "stopped", "schema_changed"]
MAX_TARGETS = 10  # webhooks, and Slack channels: each send is bounded, their number too


def _events(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("list each event once")
    return value


Events = Annotated[list[NotifyEvent], Field(min_length=1), AfterValidator(_events)]


class Webhook(_Strict):
    """An HTTPS endpoint that gets each chosen event as signed JSON (see docs/notifications.md)."""

    url: SafeText = Field(
        max_length=2048,
        description="http(s) URL the events are POSTed to; no user:password inside (the "
        "signature authenticates us; a credential belongs in a connection).",
    )
    secret_conn_id: SafeText = Field(
        min_length=1,
        max_length=250,
        description="Airflow connection whose password is the shared secret of the "
        "X-EES-Signature header (HMAC-SHA256 over the body).",
    )
    events: Events = Field(
        default_factory=lambda: list(NOTIFY_EVENTS),
        description="Which events: delivered, failed, deadline_missed, stopped, schema_changed "
        "(default all).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parsed.username is not None or parsed.password is not None:
            raise ValueError(
                "must not hold a user or password; the signature's secret is in "
                "the connection named by secret_conn_id"
            )
        if any(c.isspace() for c in value):
            raise ValueError("must not contain spaces")
        try:
            parsed.port  # noqa: B018 - raises on a port out of range
        except ValueError as exc:
            raise ValueError(f"has an invalid port ({exc})") from None
        return value


class SlackTarget(_Strict):
    """A Slack channel, through the Slack provider's notifier and a `slack` connection."""

    conn_id: SafeText = Field(
        min_length=1, max_length=250, description="Airflow `slack` connection (the bot token)."
    )
    channel: SafeText = Field(
        min_length=1, max_length=80, description="Channel name or id, e.g. #exports-oncall."
    )
    events: Events = Field(
        default_factory=lambda: list(NOTIFY_EVENTS),
        description="Which events: delivered, failed, deadline_missed, stopped, schema_changed "
        "(default all).",
    )


class Notify(_Strict):
    failure_emails: list[EmailStr] = Field(
        default_factory=list, description="Who gets failure emails about this export."
    )
    webhooks: list[Webhook] = Field(
        default_factory=list,
        max_length=MAX_TARGETS,
        description="Signed JSON events for the client's or our systems (up to 10).",
    )
    slack: list[SlackTarget] = Field(
        default_factory=list,
        max_length=MAX_TARGETS,
        description="Slack channels told of the chosen events (up to 10).",
    )

    def targets_of(self, event: str) -> tuple[list[Webhook], list[SlackTarget]]:
        """The webhooks and Slack channels that asked for `event`."""
        return (
            [w for w in self.webhooks if event in w.events],
            [s for s in self.slack if event in s.events],
        )


class Encrypt(_Strict):
    """OpenPGP encryption of every delivered file to the client's public key (docs/security.md).
    The key lives in an Airflow connection, like every credential, never in the config."""

    pgp_public_key_conn_id: SafeText = Field(
        min_length=1,
        max_length=250,
        description="Airflow connection whose extra `public_key` holds the client's "
        "ASCII-armored OpenPGP public key; each delivered file is encrypted to it and named "
        "<name>.pgp.",
    )


class ExportConfig(_Strict):
    """One export: what to send, in which shape, when, and where."""

    # `schema` is a BaseModel attribute: the field is `schema_`, spelled `schema` in files and
    # in every dump (the deadline callback re-validates a dump in the triggerer)
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )

    client_id: str = Field(pattern=IDENTIFIER, description="The client's id; starts file names.")
    export_id: str = Field(pattern=IDENTIFIER, description="Unique export id; the DAG id's base.")
    description: Annotated[str, BeforeValidator(_no_control_but_lines)] = ""
    kind: Kind = Field(
        default="all_events",
        description="What goes out: every event, the listed events, or every user profile.",
    )
    events: list[SafeText] = Field(
        default_factory=list, description="Event names, required for kind selected_events."
    )
    profile: Literal["daily_zip", "gcp_export"] = Field(
        default="daily_zip",
        description=(
            "File layout: daily_zip is one <client>_<DDMMYYYY>.zip of one CSV per event; "
            "gcp_export is the GCP export's files, named and chunked as its document says."
        ),
    )
    format: Format = Field(default="csv", description="File format; daily_zip takes csv only.")
    identity_priority: list[Literal["identity", "email", "phone"]] = Field(
        default_factory=lambda: ["identity"],
        min_length=1,
        max_length=3,
        description=(
            "gcp_export, kinds all_events and user_profiles: the identity column takes the "
            "first present value among these, in this order; empty when none is present."
        ),
    )
    values_as_strings: bool = Field(
        default=False,
        description="gcp_export: write every property value as a string (else original types).",
    )
    csv_for_excel: bool = Field(
        default=False,
        description=(
            "CSV files (both profiles; refused with other formats): start each file with a "
            "UTF-8 BOM and prefix a cell that starts with =, +, -, @, tab or CR with a single "
            "quote, so Excel opens the file safely (no formulas run) and shows non-Latin text "
            "right. Changes values: opt-in."
        ),
    )
    chunk_size_mb: float = Field(
        default=100,
        gt=0,
        le=10_000,
        description="gcp_export event files: size limit per file in MB (10^6 bytes).",
    )
    parquet_compression: Literal["gzip", "none"] = Field(
        default="gzip",
        description="gcp_export parquet events: gzip (.parquet.gzip) or none (.parquet).",
    )
    compression: Literal["gzip", "zstd", "snappy", "none"] | None = Field(
        default=None,
        description=(
            "gcp_export event files: csv, json and xml files as a gzip (.gz) or zstd (.zst) "
            "stream or none (default); parquet files with Parquet's own codec gzip (default, "
            ".parquet.gzip), zstd (.parquet.zstd), snappy (.parquet.snappy) or none (.parquet). "
            "parquet_compression is the older name for parquet's; give one of the two."
        ),
    )
    path_template: Annotated[SafeText, AfterValidator(templates.check)] | None = Field(
        default=None,
        description=(
            "gcp_export: folders under the destination's path for each file, from "
            "{yyyy} {mm} {dd} {hh} (the period's start, in the export's timezone), {event} "
            "(made safe as in file names), {export_id} and {request_id}; e.g. "
            "dt={yyyy}-{mm}-{dd}/event={event}. Relative, no '..', no empty folder."
        ),
    )
    database_id: str = Field(
        default="0",
        pattern=NAME_PART,
        description="gcp_export: the database id that ends every file name.",
    )
    account_id: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="gcp_export user_profiles: the account (project) id that starts file names.",
    )
    schema_: Literal["evolve", "locked"] = Field(
        default="evolve",
        alias="schema",
        description=(
            "evolve: each delivery's columns are the payload keys its day holds. locked: each "
            "event keeps the columns of its first delivery; new keys are dropped and counted, "
            "vanished ones stay as empty columns (docs/config.md#schema)."
        ),
    )
    source: SafeText | None = Field(
        default=None,
        description="Event lake URI (local path, s3://, gs://); defaults to EES_LAKE_URI.",
    )
    schedule: Schedule = Field(default_factory=Schedule)
    destination: Destination
    notify: Notify = Field(default_factory=Notify)
    encrypt: Encrypt | None = Field(
        default=None,
        description="Encrypt each delivered file (the daily zip as one file) to the client's "
        "OpenPGP public key; off when omitted.",
    )

    @model_validator(mode="after")
    def _events_match_kind(self) -> ExportConfig:
        if self.schema_ == "locked" and self.schedule.frequency == "one_time":
            raise ValueError(
                "schema: locked needs a scheduled export (daily or recurring); one-time runs "
                "are not ordered in time, so there is no first delivery to lock to"
            )
        if self.kind == "selected_events" and not self.events:
            raise ValueError("events: list at least one event name for kind selected_events")
        if self.kind != "selected_events" and self.events:
            raise ValueError("events: only allowed with kind selected_events")
        return self

    @model_validator(mode="after")
    def _options_match_profile(self) -> ExportConfig:
        """Options that would be silently ignored are errors, so a typo'd intent shows."""
        given = self.model_fields_set
        if self.profile == "daily_zip":
            if self.format != "csv":
                raise ValueError("format: profile daily_zip writes csv only")
            if self.kind == "user_profiles":
                raise ValueError("kind: user_profiles needs profile gcp_export")
            for name in GCP_ONLY:
                if name in given:
                    raise ValueError(f"{name}: only used by profile gcp_export")
            return self
        if "identity_priority" in given and self.kind == "selected_events":
            raise ValueError(
                "identity_priority: applies to kinds all_events and user_profiles only"
            )
        if len(set(self.identity_priority)) != len(self.identity_priority):
            raise ValueError("identity_priority: list each identifier once")
        if "parquet_compression" in given and self.format != "parquet":
            raise ValueError("parquet_compression: only used by format parquet")
        self._check_compression(given)
        if self.csv_for_excel and self.format != "csv":
            raise ValueError("csv_for_excel: only used by format csv")
        if self.kind == "user_profiles" and self.account_id is None:
            raise ValueError("account_id: required for kind user_profiles (starts file names)")
        return self

    @model_validator(mode="after")
    def _template_keys_fit(self) -> ExportConfig:
        """Every key a gcp_export's path_template can make fits the store (object_keys.py)."""
        if self.path_template:
            destination = self.destination
            problem = object_keys.template_problem(
                destination.type, destination.path, self.path_template
            )
            if problem:
                raise ValueError(problem)
        return self

    def _check_compression(self, given: set[str]) -> None:
        if self.compression is not None and "parquet_compression" in given:
            raise ValueError(
                "compression: give compression or parquet_compression (its older name), not both"
            )
        if self.kind == "user_profiles":
            if self.compression is not None:
                raise ValueError("compression: user profile files are always one gzip file (.gz)")
            if self.path_template and "event" in templates.fields(self.path_template):
                raise ValueError("path_template: {event} has no value for kind user_profiles")
        if self.format != "parquet" and self.compression == "snappy":
            raise ValueError(
                f"compression: snappy is a parquet codec; {self.format} files take gzip, zstd "
                "or none"
            )

    @property
    def codec(self) -> str:
        """The event files' compression in effect: parquet's codec (default gzip, as before
        `compression` existed), else the text stream's (default none)."""
        if self.format == "parquet":
            return self.compression or self.parquet_compression
        return self.compression or "none"

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.export_id)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)


@dataclass(frozen=True)
class ConfigError:
    """A config that could not be loaded, with the file and every offending field."""

    path: Path
    messages: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(f"{printable(str(self.path))}: {m}" for m in self.messages)

    @property
    def export_id(self) -> str:
        """The id the file would give its export; the whole name for a misnamed file, so a
        `x.YAML` beside a good `x.yaml` never shares its row."""
        name = self.path.stem if self.path.suffix in CONFIG_SUFFIXES else self.path.name
        return printable(name)


def _field_messages(exc: ValidationError) -> tuple[str, ...]:
    out = []
    for err in exc.errors():
        # The destination union's tag ('s3', ...) is not a field the user wrote: leave it out.
        loc = [
            str(p)
            for i, p in enumerate(err["loc"])
            if not (i and err["loc"][i - 1] == "destination" and p in DESTINATION_TYPES)
        ]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            *head, last = [repr(t) for t in DESTINATION_TYPES]
            loc, msg = [*loc, "type"], f"Input should be {', '.join(head)} or {last}"
        elif err["type"] == "union_tag_not_found":
            loc, msg = [*loc, "type"], "Field required"
        elif err["type"] == "value_error" and (named := FIELD_FIRST.match(msg)):
            loc, msg = [*loc, named.group(1)], named.group(2)  # model-level errors name a field
        out.append(f"{'.'.join(loc) or '(file)'}: {msg}")
    return tuple(out)


def load_config(path: Path) -> ExportConfig:
    """Read and validate one config; raises ConfigError-carrying ValueError on any problem."""
    result = load_or_error(path)
    if isinstance(result, ConfigError):
        raise ValueError(str(result))
    return result


def load_or_error(path: Path) -> ExportConfig | ConfigError:
    """One config, or what is wrong with it: for callers that list broken files beside good ones.

    Never raises: whatever reading, parsing or validating throws becomes the file's error."""
    try:
        result = _load(path)
    except ConfigProblem as problem:
        result = ConfigError(path, (str(problem),))
    except Exception as exc:  # the promise: one file can never take the others down
        result = ConfigError(path, (f"(file): cannot be loaded: {type(exc).__name__}: {exc}",))
    if isinstance(result, ConfigError):  # a key or file name may hold any character
        return ConfigError(path, tuple(printable(m) for m in result.messages))
    return result


def _load(path: Path) -> ExportConfig | ConfigError:
    if problem := misnamed(path):
        return ConfigError(path, (f"(file): {problem}",))
    data = yaml_reader.read(path)
    if not isinstance(data, dict):
        return ConfigError(path, ("(file): must be a mapping of fields",))
    try:
        config = ExportConfig.model_validate(data)
    except ValidationError as exc:
        return ConfigError(path, _field_messages(exc))
    if config.export_id != path.stem:
        return ConfigError(
            path, (f"export_id: {config.export_id!r} must equal the file name {path.stem!r}",)
        )
    return config


def misnamed(path: Path) -> str | None:
    """Why a file that looks like a config is not loaded (None for `<id>.yaml`/`<id>.yml`):
    an upper-case or near-miss extension, or a hidden (editor lock, swap) file."""
    name = path.name
    lower = name.lower()
    ext = ".yaml" if ".yaml" in lower else ".yml"
    cut = lower.rfind(ext)
    wanted = printable(name[:cut].lstrip(".#") + ext)
    if name.startswith("."):
        return (
            f"not loaded: a hidden file (an editor's lock or swap file?); if it is a config, "
            f"rename it to {wanted}, else remove it"
        )
    if path.suffix in CONFIG_SUFFIXES:
        return None
    if (path.parent / wanted).exists() and wanted != name:
        return (
            f"not loaded: only <export_id>.yaml or .yml is read; {wanted} exists, remove this copy"
        )
    return f"not loaded: only <export_id>.yaml or .yml is read; rename to {wanted}"


def config_files(folder: Path) -> list[Path]:
    """Every file that is, or looks like, a config (`.yaml`/`.yml` anywhere in its name, any
    case), in a stable order: each is loaded or reported, none silently skipped."""
    try:
        names = sorted(
            p for p in folder.iterdir() if any(s in p.name.lower() for s in CONFIG_SUFFIXES)
        )
    except OSError:
        return []
    return names


def load_all(
    folder: Path,
    select: Callable[[str], bool] | None = None,
    load: Callable[[Path], ExportConfig | ConfigError] = load_or_error,
) -> tuple[dict[Path, ExportConfig], list[ConfigError]]:
    """Load every config in a folder; bad files, duplicate ids and exports that would overwrite
    each other's files (config/collisions.py) are reported, not raised.

    `select` keeps only files whose would-be export id it accepts (a DAG file's shard); `load`
    reads one file (the Exports page passes one that caches unchanged files)."""
    good: dict[Path, ExportConfig] = {}
    errors: list[ConfigError] = []
    seen: dict[str, Path] = {}
    others: list[Path] = []  # outside the selection: read only to find who holds a place
    for path in config_files(folder):
        if select is not None and not select(path.stem):
            others.append(path)
            continue
        result = load(path)
        if isinstance(result, ConfigError):
            errors.append(result)
        elif result.export_id in seen:
            used = f"export_id: {result.export_id!r} is already used by {seen[result.export_id]}"
            errors.append(ConfigError(path, (used,)))
        else:
            seen[result.export_id] = path
            good[path] = result
    errors.extend(collisions.refuse(good, others, load, yaml_reader.MAX_BYTES))
    return good, errors


def json_schema() -> dict:
    """The JSON Schema published for editors (include/exports/export.schema.json)."""
    schema = ExportConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Event Export Scheduler export config"
    return schema


def _main(argv: list[str]) -> int:
    if argv[:1] == ["schema"]:
        print(json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    if argv[:1] == ["check"] and len(argv) == 2:
        folder = Path(argv[1])
        if not folder.is_dir():
            print(f"{folder}: not a folder", file=sys.stderr)
            return 2
        good, errors = load_all(folder)
        for err in errors:
            print(err, file=sys.stderr)
        print(f"{len(good)} valid config(s), {len(errors)} broken")
        return 1 if errors else 0
    print("usage: python -m event_export.config.model schema | check FOLDER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
