"""Hostile event names: every kind issue 13 tried, and more, as one corpus.

The same names go through the naming unit tests (tests/unit/pipeline/test_hostile_names.py), the
stages in-process, and a real DAG run on PostgreSQL under a real scheduler
(tests/integration/test_hostile_names_stack.py), so what production does with a name is what is
tested. `check_delivery` is the client's view of a delivered folder, shared by those tests.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from event_export.destinations.base import temp_name
from event_export.generator import generate_hour
from event_export.pipeline.lake import partition_dir
from event_export.pipeline.naming import MANIFEST_SUFFIX, MAX_NAME_BYTES

LONG = "x" * 300  # ~300 bytes of ASCII: over the limit before any temporary prefix
HOSTILE_EVENTS: tuple[str, ...] = (
    # long names, cut by bytes on a character boundary; some collide after the cut
    LONG,
    LONG + "-tail",
    "x" * 250 + "A",
    "x" * 250 + "B",
    "é" * 200,  # 400 bytes
    "é" * 199 + "e\u0301",  # the same text in NFD at the end
    "खरीदारी" * 20,  # Hindi, 3 bytes a character
    "🛒" * 80,  # 4 bytes a character
    "ab" * 104 + "🛒",  # a 4-byte character across the cut
    # separators, traversal, hidden and empty names
    "nul\x00byte",
    "\x00",
    "a/b",
    "a-b",
    "a-b-c14cdd",  # what a/b became with a hash once: the 2-files-for-3-events case
    "a\\b",
    "../../etc/passwd",
    "..\\..\\windows",
    "..",
    ".",
    ".hidden",
    "",
    " ",
    "   \t  ",
    "\n",
    "/",
    # control characters
    "ctrl\x07bell",
    "esc\x1b[31mred",
    "del\x7f",
    "tab\there",
    "new\nline",
    "cr\rreturn",
    "c1\x9bcsi",
    # case and Unicode normalisation twins
    "Purchase",
    "purchase",
    "PURCHASE",
    "café",  # NFC
    "cafe\u0301",  # NFD
    "Straße",
    "STRASSE",  # casefolds to the same as Straße
    "ﬁle",  # a ligature: casefold gives "file"
    "file",
    # characters Windows refuses, and trailing dot or space
    'win<>:"|?*',
    "question?",
    "question_",
    "trailing dot.",
    "trailing dots...",
    "trailing space ",
    "CON",
    "nul",
    "aux.txt",
    # bidirectional overrides, isolates and line separators
    "rtl\u202egnp.exe",
    "lri\u2066x\u2069",
    "lrm\u200e\u200fmarks",
    "nel\u0085next",
    "ls\u2028line",
    "ps\u2029para",
    "bom\ufeffstart",
    # ordinary but awkward
    "add to cart",
    "खरीदारी पूरी",
    "مرحبا بالعالم",
    "emoji 🛒👨‍👩‍👧 family",
    "%2e%2e%2f",
    "$HOME ~user `id`",
    "semi;colon, comma \"quote\" 'single'",
    '=HYPERLINK("http://x")',
)

# One of each kind, for the real DAG runs (each event is a mapped task or two there; the whole
# corpus goes through the same stages in-process in tests/unit/pipeline/test_hostile_names.py).
STACK_EVENTS: tuple[str, ...] = (
    LONG,
    LONG + "-tail",  # collides with LONG after the cut
    "é" * 200,
    "🛒" * 80,
    "nul\x00byte",
    "ctrl\x07bell",
    "a/b",
    "a-b",
    "a-b-c14cdd",
    "a\\b",
    "../../etc/passwd",
    "..",
    ".",
    "",
    "   \t  ",
    "Purchase",
    "purchase",
    "café",
    "cafe\u0301",
    'win<>:"|?*',
    "trailing dot.",
    "rtl\u202egnp.exe",
    "nel\u0085next",
    "ls\u2028line",
    "emoji 🛒👨‍👩‍👧 family",
)


def longest_file_names() -> list[str]:
    """The names of 200 bytes or more the corpus gives: gcp_export files (with the longest
    database id and extension) and zip members. The longest are 211 bytes, so their temporary
    upload names are exactly 255; multi-byte ones end a little shorter (cut between characters)."""
    from event_export.pipeline import naming

    named = naming.gcp_event_file_names(
        dict.fromkeys(HOSTILE_EVENTS, 1), "1234567890", "1793557800", date(2026, 11, 2), "d" * 40,
        "parquet.gzip",
    )  # fmt: skip
    files = [n for names in named.values() for n in names]
    members = list(naming.member_names(HOSTILE_EVENTS, "02112026").values())
    return sorted(n for n in files + members if len(n.encode()) >= 200)


def upload_longest_names(target, local: Path) -> None:
    """Upload `local` under every name of `longest_file_names` through a destination (which
    writes `.uploading-<32 hex>-<name>` first) and assert each one arrived: 211-byte names, ASCII
    and multi-byte, whose temporary names are the 255 bytes a server's file system takes."""
    names = longest_file_names()
    assert max(len(n.encode()) for n in names) == 211 and len(names) > 10
    assert any(n.isascii() for n in names) and not all(n.isascii() for n in names)
    for name in names:
        target.upload(local, name)
    assert set(names) <= set(target.list())


def rows_for(index: int) -> int:
    """Rows of the corpus's `index`-th event: 1 to 3, so a mix-up of two events shows."""
    return index % 3 + 1


def write_hostile_lake(
    root: Path, day: date, timezone: str, events: tuple[str, ...] = HOSTILE_EVENTS
) -> dict[str, int]:
    """Write one UTC hour inside local `day` whose events carry every name of `events`; returns
    the rows per raw name (what the lake holds for that day)."""
    noon = datetime.combine(day, time(12), ZoneInfo(timezone)).astimezone(UTC)
    hour = noon.replace(minute=0, second=0, microsecond=0)
    names = [e for i, e in enumerate(events) for _ in range(rows_for(i))]
    table = generate_hour(hour.date(), hour.hour, len(names))
    table = table.set_column(0, "event_name", pa.array(names, pa.string()))
    folder = Path(partition_dir(str(root), hour))
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-0.parquet")
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def fold(name: str) -> str:
    """What a case-insensitive, normalising file system (macOS, Windows) compares."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


REFUSED = set('<>:"|?*\\/') | {chr(c) for c in range(32)} | {"\x7f", "\x85", "\u2028", "\u2029"}
REFUSED |= {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}


def portable_problems(names: list[str]) -> list[str]:
    """Why these names (of one folder or one zip) would not survive a client's file system."""
    problems = []
    folded = [fold(n) for n in names]
    if len(set(folded)) != len(folded):
        problems.append("names equal under case folding and NFC")
    for name in names:
        if len(name.encode()) > MAX_NAME_BYTES or len(temp_name(name).encode()) > MAX_NAME_BYTES:
            problems.append(f"{name!r}: over {MAX_NAME_BYTES} bytes (with its temporary name)")
        if set(name) & REFUSED:
            problems.append(f"{name!r}: a character Windows or a terminal refuses")
        if name.startswith(".") or name.endswith((".", " ")) or not name:
            problems.append(f"{name!r}: hidden, empty or with a trailing dot or space")
    return problems


def _csv_rows(data: bytes) -> list[dict]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def check_delivery(root: Path, folder: str, lake: dict[str, int], others: tuple = ()) -> dict:
    """Assert what a client finds under `root/folder`: a manifest (found by its suffix) mapping
    every delivered file (and zip member) to raw event names with the lake's row counts, the
    files' rows agreeing, every name portable, nothing anywhere else under `root` (but in the
    `others` folders, other exports' own)."""
    target = root / folder
    everything = sorted(
        p for p in root.rglob("*") if p.is_file() and p.parent not in [root / o for o in others]
    )
    assert all(p.parent == target for p in everything), everything  # nothing outside, no subdirs
    [manifest_path] = [p for p in everything if p.name.endswith(MANIFEST_SUFFIX)]
    manifest = json.loads(manifest_path.read_text())
    names = [p.name for p in everything]
    assert portable_problems(names) == []
    assert sorted(f["name"] for f in manifest["files"]) == sorted(
        n for n in names if n != manifest_path.name
    )
    assert manifest["rows_per_event"] == dict(sorted(lake.items()))

    delivered: dict[str, int] = {}
    for entry in manifest["files"]:
        data = (target / entry["name"]).read_bytes()
        if entry["name"].endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = zf.namelist()
                assert portable_problems(members) == []
                assert sorted(members) == sorted(entry["members"])
                for member in members:
                    event = entry["members"][member]
                    delivered[event] = delivered.get(event, 0) + len(_csv_rows(zf.read(member)))
        else:
            [(event, rows)] = entry["events"].items()
            records = _csv_rows(data)
            assert len(records) == rows
            assert {r["eventName"] for r in records} <= {event}
            delivered[event] = delivered.get(event, 0) + rows
    assert delivered == lake
    return manifest


HIVE_TEMPLATE = "dt={yyyy}-{mm}-{dd}/event={event}"  # docs/config.md's example
# The names that test a folder most: long, separators, traversal, dots, blanks, case and NFC
# twins, characters Windows refuses, bidi controls. (Each is an upload per destination test.) The
# stack's names without those a folder adds nothing to: the cut's collision, the long multi-byte
# twin (LONG and the carts cover both), a control, the hyphen twins, line separators, an emoji.
_NOT_FOLDER = frozenset(
    {
        LONG + "-tail",
        "é" * 200,
        "ctrl\x07bell",
        "a-b",
        "a-b-c14cdd",
        "nel\u0085next",
        "ls\u2028line",
        "emoji 🛒👨\u200d👩\u200d👧 family",
    }
)
FOLDER_EVENTS: tuple[str, ...] = tuple(e for e in STACK_EVENTS if e not in _NOT_FOLDER)


def templated_export_files(folder: Path, events: tuple[str, ...] = FOLDER_EVENTS) -> list[dict]:
    """One small file per event of `events`, named as a gcp_export run with the Hive-style
    `path_template` names it (`dt=2026-11-01/event=<safe event>/<file name>`), described as the
    pipeline describes a delivery (name, path, size, sha256)."""
    from event_export.pipeline import naming
    from event_export.pipeline.stages.package import describe

    values = naming.template_values(datetime(2026, 11, 1), "acme", "1234567890")
    named = naming.gcp_event_file_names(
        dict.fromkeys(events, 1), "1234567890", "1793557800", date(2026, 11, 1), "db1", "csv.gz"
    )
    files = []
    for index, event in enumerate(sorted(events)):
        local = folder / f"{index:03d}.csv.gz"
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(f"{index}:{event!r}".encode("utf-8", "surrogatepass") * (index + 1))
        name = f"{naming.template_folder(HIVE_TEMPLATE, values, event)}/{named[event][0]}"
        files.append(describe(local, name, 0, {}).to_dict())
    return files


def check_templated_delivery(target, files: list[dict], staging: Path) -> None:
    """Deliver `files` (nested names) through a destination twice (a rerun replaces them) and
    check what a client sees: each file in its folder, listed per folder, none at the top but
    the manifest, nothing hidden left behind (temporaries go beside the final name)."""
    from servers.delivery import deliver

    assert deliver(target, files, staging) == []  # a login per upload, as the mapped tasks do
    with target._shared_connection():  # the rerun over one (the test's time, not the behaviour)
        assert deliver(target, files, staging) == []
    folders = {f["name"].rsplit("/", 1)[0] for f in files}
    assert len(folders) > 10  # the hostile names make distinct, safe folders
    with target._shared_connection():  # one login for the listings where a store logs in per call
        for folder in folders:
            listed = target.list(folder)
            expected = {
                f["name"]: f["size"] for f in files if f["name"].rsplit("/", 1)[0] == folder
            }
            assert {n: f.size for n, f in listed.items()} == expected
        assert set(target.list()) == {"export_01112026.manifest"}
    for f in files:
        parts = f["name"].split("/")
        assert all(p and p not in (".", "..") and not p.startswith(".") for p in parts), parts
        assert all(len(p.encode()) <= MAX_NAME_BYTES for p in parts)
