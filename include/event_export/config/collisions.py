"""Two exports that would write the same files into the same place, refused at load.

Why: a daily zip is named for its client and its day alone (`<client>_<DDMMYYYY>.zip` and
`<client>_<DDMMYYYY>.manifest`, as the Event Data Scheduler document asks), so two daily_zip
exports of one client delivering to one folder would overwrite each other's files every night,
each run "succeeding", and the client would get whichever finished last. Only a duplicate
export id was refused before. gcp_export names carry a request id made from the export id
(`pipeline/naming.request_id_for`), so they never meet another export's.

Which one keeps running: the config first in file-name order holds the place (as for a
duplicate export id); every later one fails alone, naming the file that holds it and the field
to change. The DAG files are sharded by export id, so a shard also looks at the configs of the
other shards, but reads in full only those that could name one of its clients (`_may_name`).

What is compared: the client id, and the place: for S3 and GCS the bucket (bucket names are
global, whichever connection reaches them) and the path; for Azure the connection (its storage
account), the container and the path; for local folders, sFTP and FTP the connection and the
path, folded for case and Unicode normalisation (the server may be Windows or macOS). Two
connections that reach one server and folder cannot be seen from the configs; docs/config.md
says so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from event_export.config.yaml_reader import printable

if TYPE_CHECKING:
    from event_export.config.model import ConfigError, ExportConfig

_WORD = re.compile(rb"[a-z0-9_-]+")  # a client id's alphabet (model.IDENTIFIER)
FOLDERS = ("local", "sftp", "ftp")  # file systems that may ignore case and normal forms
Place = tuple[str, ...]  # (client id, destination type, where, path)


def fold(name: str) -> str:
    """The key two names share when a case-insensitive, normalising file system sees one."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def place(config: ExportConfig) -> Place | None:
    """Where `config`'s file names could meet another export's, or None when its names carry
    its own export id (gcp_export)."""
    if config.profile != "daily_zip":
        return None
    dest = config.destination
    if dest.type in ("s3", "gcs"):
        where = dest.bucket
    elif dest.type == "azure":
        where = f"{dest.conn_id}/{dest.container}"
    else:
        where = dest.conn_id
    path = fold(dest.path) if dest.type in FOLDERS else dest.path
    return (config.client_id, dest.type, where, path)


def _may_name(path: Path, clients: frozenset[bytes], limit: int) -> bool:
    """Whether the file's text could give one of `clients` as its client id: the id is one of
    its words (runs of the id's alphabet), or a backslash is in it (a double-quoted YAML escape
    can spell any character). Without an escape, YAML writes a value's characters as they are,
    and any character next to the id's own would make another value."""
    try:
        size = path.stat().st_size
        if size > limit:
            return False  # too big to load, so it holds no place
        with path.open("rb") as handle:
            raw = handle.read(size + 1)
    except OSError:
        return False  # unreadable: it cannot load either
    if len(raw) > size:
        return True  # grown since it was listed: the loader decides
    return b"\\" in raw or not clients.isdisjoint(_WORD.findall(raw))


def holders(configs: dict[Path, ExportConfig]) -> dict[Place, Path]:
    """Each place and the file that holds it: the first in file-name order."""
    held: dict[Place, Path] = {}
    for path in sorted(configs):
        if (where := place(configs[path])) is not None:
            held.setdefault(where, path)
    return held


def refuse(
    good: dict[Path, ExportConfig],
    others: Iterable[Path],
    load: Callable[[Path], ExportConfig | ConfigError],
    limit: int,
) -> list[ConfigError]:
    """Remove from `good` every config whose place a config earlier in file-name order holds,
    and return their errors. `others` are the config files outside `good`'s selection (a
    DAG file's shard), in file-name order; `limit` bounds how much of one is read."""
    from event_export.config.model import ConfigError, ExportConfig

    mine = {path: where for path, config in good.items() if (where := place(config))}
    if not mine:
        return []
    clients = frozenset(where[0].encode() for where in mine.values())
    last = max(mine)
    candidates = dict(good)
    for path in others:
        if path < last and _may_name(path, clients, limit):
            loaded = load(path)
            if isinstance(loaded, ExportConfig):
                candidates[path] = loaded
    held = holders(candidates)
    errors = []
    for path, where in sorted(mine.items()):
        if held[where] != path:
            config = good.pop(path)
            errors.append(ConfigError(path, (_message(config, held[where]),)))
    return errors


def _message(config: ExportConfig, holder: Path) -> str:
    return printable(
        f"destination.path: {holder.name} already delivers the daily zip of client "
        f"{config.client_id!r} to {config.destination.location} under the same names "
        f"({config.client_id}_<DDMMYYYY>.zip and .manifest): each would overwrite the other's "
        "files; give this export another destination.path"
    )
