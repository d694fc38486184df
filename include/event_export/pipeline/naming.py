"""File names clients see. Names must be stable (reruns overwrite), can never escape a folder,
and must survive the client's side: every name fits 255 bytes even under the longest temporary
name a destination writes it under first, no name holds a character Windows refuses or one that
reorders or breaks the text on screen, and no two names of one zip or one folder become one file
on a case-insensitive, normalising file system (macOS, Windows).

Any event name, however hostile, gives such a name; the raw name itself travels only in the
staged data and the manifest, never in XCom or a database column (see `event_label`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime

from event_export.config import path_template
from event_export.config.collisions import fold  # names one file system sees as one
from event_export.scheduling.windows import ddmmyyyy  # the period label, reused in names

MAX_NAME_BYTES = 255  # a file name component on ext4, APFS, NTFS (UTF-16 units there: fewer)
# The longest temporary name any destination writes a file under before renaming it:
# `.uploading-<32 hex>-<name>` on sFTP, FTP and local folders (destinations/base.temp_name).
TEMP_OVERHEAD = len(".uploading-") + 32 + 1
MAX_FINAL_BYTES = MAX_NAME_BYTES - TEMP_OVERHEAD  # 211: what a delivered name may take
HASH_CHARS = 6  # the short hash added to a cut or colliding name

_SEPARATORS = re.compile(r"[\t\n\r\x0b\x0c/\\\x00]")
# Control characters (C0, DEL, C1 with NEL U+0085), Unicode line and paragraph separators,
# bidirectional marks, embeddings, overrides and isolates, the BOM, and what Windows refuses.
_REFUSED = re.compile(
    "[\x01-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff"
    '<>:"|?*]'
)
_WHITESPACE = re.compile(r"\s")
_TRAILING = re.compile(r"[. ]+$")  # Windows drops a trailing dot or space


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fit_bytes(text: str, limit: int) -> str:
    """`text` if its UTF-8 fits `limit` bytes, else cut on a character boundary with a short hash
    of the whole text after a '~', so two long names sharing their start stay apart."""
    if len(text.encode()) <= limit:
        return text
    tag = f"~{_digest(text)[:HASH_CHARS]}"
    room = max(limit - len(tag), 0)
    cut = text.encode()[:room].decode("utf-8", "ignore")  # drops a split last character
    return _TRAILING.sub("", cut) + tag


def safe_component(name: str, keep_spaces: bool = True, limit: int = MAX_FINAL_BYTES) -> str:
    """One path component from any event name: no separators, no control characters, no '..',
    nothing Windows refuses, in Unicode NFC, at most `limit` bytes of UTF-8.

    Tabs, line breaks, slashes and NUL become '-'; other control characters, line separators,
    bidirectional controls and `<>:"|?*` become '_'. Spaces stay, as the daily-zip examples keep
    them ("add to cart_01012022.csv"); with `keep_spaces=False` every whitespace character
    becomes '-' too, as the GCP export document asks. Leading dots go (no hidden files, no '..'),
    a trailing dot or space becomes '_'. An empty result is '-'.
    """
    cleaned = _REFUSED.sub("_", _SEPARATORS.sub("-", unicodedata.normalize("NFC", name)))
    cleaned = cleaned.strip() if keep_spaces else _WHITESPACE.sub("-", cleaned)
    cleaned = cleaned.lstrip(".") or "-"
    cleaned = _TRAILING.sub(lambda m: "_" * len(m.group()), cleaned)
    return fit_bytes(cleaned, limit)


def _tags(event: str) -> Iterable[str]:
    """What tells a colliding name apart: nothing first, then ever longer hashes of the raw
    name, then a counter (never needed in practice; the loop must still end)."""
    yield ""
    digest = _digest(event)
    for length in (HASH_CHARS, 10, 16, 64):
        yield f"-{digest[:length]}"
    n = 2
    while True:
        yield f"-{digest[:HASH_CHARS]}-{n}"
        n += 1


class UniqueNames:
    """The names given in one zip or one destination folder, compared under `fold`.

    `claim` asks `build(tag)` for an event's names with a disambiguating tag (first none, then
    hashes), keeping the first set of names that no earlier claim holds. Claim events in a fixed
    order (sorted raw names) so a rerun gives every event the same names.
    """

    def __init__(self, taken: Iterable[str] = ()):
        self.taken = {fold(n) for n in taken}

    def claim(self, event: str, build: Callable[[str], list[str]]) -> list[str]:
        for tag in _tags(event):
            names = build(tag)
            keys = [fold(n) for n in names]
            if len(set(keys)) == len(keys) and self.taken.isdisjoint(keys):
                self.taken.update(keys)
                return names
        raise AssertionError("unreachable: the counter always finds a free name")


def staging_key(event_name: str) -> str:
    """A short, fixed-alphabet key for the staging files and XCom rows of any event name."""
    return _digest(event_name)[:16]


_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\\\\]"
)
LABEL_CHARS = 120


def event_label(event: str) -> str:
    """The event name for XCom, task labels and the Exports page: the name itself when it is
    printable and short, else an escaped, cut spelling with the staging key's start, so no NUL
    or invisible character ever reaches the metadata database (PostgreSQL refuses NUL in JSONB)."""
    plain = event and event.strip() == event and len(event) <= LABEL_CHARS
    if plain and not _UNPRINTABLE.search(event):
        return event
    escaped = _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", event)
    return f"{escaped[:LABEL_CHARS]} #{staging_key(event)[:HASH_CHARS]}"


# Daily zip names (Event Data Scheduler document).


def daily_zip_name(client_id: str, day: date) -> str:
    """`<clientID>_<DDMMYYYY>.zip` from the Event Data Scheduler document."""
    return f"{safe_component(client_id)}_{ddmmyyyy(day)}.zip"


def member_name(event_name: str, label: str, tag: str = "") -> str:
    """`<event name>[-<hash>]_<label>.csv`: a disambiguating hash goes before the date, so the
    member keeps the document's `<event>_<DDMMYYYY>.csv` shape."""
    tail = f"{tag}_{label}.csv"
    return safe_component(event_name, limit=MAX_FINAL_BYTES - len(tail.encode())) + tail


def daily_csv_name(event_name: str, day: date) -> str:
    """`<event name>_<DDMMYYYY>.csv` from the Event Data Scheduler document."""
    return member_name(event_name, ddmmyyyy(day))


def member_names(events: Iterable[str], label: str) -> dict[str, str]:
    """Each event's zip member, unique under case folding and NFC within the zip."""
    names = UniqueNames()
    return {
        e: names.claim(e, lambda tag, e=e: [member_name(e, label, tag)])[0] for e in sorted(events)
    }


MANIFEST_SUFFIX = ".manifest"  # JSON inside; no glob of data files (*.csv, *.json, ...) matches


def manifest_name(data_file: str) -> str:
    """`<data file's stem>.manifest`, e.g. `acme_01112026.manifest` beside `acme_01112026.zip`
    (and beside `acme_01112026.zip.pgp`: the manifest itself is not encrypted)."""
    stem = data_file.removesuffix(".pgp").rsplit(".", 1)[0]
    return f"{stem}{MANIFEST_SUFFIX}"


# GCP export names (seed 003). Parts are joined by '-', so ids never contain one; the run's
# timestamp comes from the data interval, not the clock, so a rerun writes the same names.


def request_id_for(client_id: str, export_id: str, period_key: str) -> str:
    """A run's 10-digit request id: one per export and period, so a rerun of the same period has
    the same id (and writes the same names) and searching for it finds exactly that run's files.
    """
    digest = hashlib.sha256(f"{client_id}/{export_id}/{period_key}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"


def run_timestamp(interval_end: datetime) -> str:
    """The export run's timestamp: Unix seconds of the interval's end (when the run is due)."""
    return str(int(interval_end.timestamp()))


def gcp_event_file_name(
    request_id: str, run_ts: str, event_part: str, day: date, index: int, database_id: str, ext: str
) -> str:
    """`<request id>-<run timestamp>-<event name>-<yyyymmdd>-<file index>-<database-id>.<ext>`."""
    return f"{request_id}-{run_ts}-{event_part}-{day:%Y%m%d}-{index}-{database_id}.{ext}"


def gcp_event_file_names(
    events: dict[str, int],
    request_id: str,
    run_ts: str,
    day: date,
    database_id: str,
    ext: str,
) -> dict[str, list[str]]:
    """Every event's file names (one per chunk; `events` maps raw name to its chunk count), the
    event part with whitespace as '-', cut to fit, with a hash after it where names collide."""
    names = UniqueNames()
    out = {}
    for event in sorted(events):
        count = events[event]

        def build(tag: str, event: str = event, count: int = count) -> list[str]:
            longest = gcp_event_file_name(request_id, run_ts, tag, day, count - 1, database_id, ext)
            room = MAX_FINAL_BYTES - len(longest.encode())
            part = safe_component(event, keep_spaces=False, limit=room) + tag
            return [
                gcp_event_file_name(request_id, run_ts, part, day, i, database_id, ext)
                for i in range(count)
            ]

        out[event] = names.claim(event, build)
    return out


def gcp_profile_file_name(
    account_id: int, request_id: str, run_ts: str, database_id: str, file_format: str
) -> str:
    """`<account id>-<request id>-<run timestamp>-<database-id>-<file format>.gz`."""
    return f"{account_id}-{request_id}-{run_ts}-{database_id}-{file_format}.gz"


def gcp_manifest_name(prefix: str, day: date, database_id: str) -> str:
    """The delivery's manifest: `<prefix>-<yyyymmdd>-<database-id>.manifest`, where the prefix is
    the files' own leading parts (request id and run timestamp, after the account id for
    profiles), so it sorts beside the files it describes."""
    return f"{prefix}-{day:%Y%m%d}-{database_id}{MANIFEST_SUFFIX}"


# Path templates (gcp_export `path_template`, grammar in config/path_template.py).


def template_values(start: datetime, export_id: str, request_id: str) -> dict[str, str]:
    """The run's placeholder values but {event}: the period's start as a local wall time (pass
    it in the export's timezone), the export id and the request id, all safe as they are."""
    return {
        "yyyy": f"{start:%Y}",
        "mm": f"{start:%m}",
        "dd": f"{start:%d}",
        "hh": f"{start:%H}",
        "export_id": export_id,
        "request_id": request_id,
    }


def template_folder(template: str, values: dict[str, str], event: str | None = None) -> str:
    """The folders `template` gives for one file: `values` filled in, the raw `event` name made
    safe the way file names make it (whitespace as '-', cut with a hash past EVENT_BYTES), so no
    name can add a separator, a dot folder or a control character. Never empty or absolute: the
    template passed config load (path_template.parse), and every placeholder renders non-empty."""
    folders = []
    for folder in path_template.parse(template):
        text = []
        for piece in folder:
            text.append(piece.text)
            if piece.field == "event":
                if event is None:
                    raise ValueError("path_template: {event} has no value here")
                text.append(
                    safe_component(event, keep_spaces=False, limit=path_template.EVENT_BYTES)
                )
            elif piece.field is not None:
                text.append(values[piece.field])
        folders.append("".join(text))
    return "/".join(folders)
