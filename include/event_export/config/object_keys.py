"""How long a delivered object's key can get, checked at config load against its store's limit.

Why at load: S3 and GCS refuse an object key over 1,024 bytes (UTF-8) and Azure a blob name
over 1,024 characters, but only when the upload is made: with a gcp_export `path_template`,
on the first night an event with a long name arrives, long after the destination check passed.
Every part of a key has a known maximum: the destination's `path` as written, the template's
folders (path_template.PLACEHOLDERS: the event part is cut to EVENT_BYTES) and the file name
(every delivered name fits NAME_BYTES, pipeline/naming.py). So the worst case is known when the
file is read, and a config that could ever make a key too long fails then, alone, naming its
file and field, like any other bad config.

Azure also counts a blob name's path segments (the parts between slashes): at most 254
(Microsoft's "Naming and Referencing Containers, Blobs, and Metadata"). The path's folders, the
template's folders and the file name are each one segment, so that is known at load too.

sFTP, FTP and local folders have no key: each folder name is held to 255 bytes there (the
path's check and path_template.MAX_FOLDER_BYTES); whole paths are left to the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from event_export.config import path_template

NAME_BYTES = 211  # the longest delivered file name (= pipeline.naming.MAX_FINAL_BYTES)
AZURE_SEGMENTS = 254  # path segments in one blob name


@dataclass(frozen=True)
class KeyLimit:
    store: str  # as the message names it
    longest: int
    unit: str  # "bytes" (UTF-8) or "characters"

    def measure(self, text: str) -> int:
        return len(text.encode()) if self.unit == "bytes" else len(text)


LIMITS = {
    "s3": KeyLimit("S3", 1024, "bytes"),
    "gcs": KeyLimit("GCS", 1024, "bytes"),
    "azure": KeyLimit("Azure Blob Storage", 1024, "characters"),
}


def path_problem(destination_type: str, path: str) -> str | None:
    """Why the destination's `path` leaves no room for a file name under the store's limit, or
    None (also for destinations without one)."""
    limit = LIMITS.get(destination_type)
    if limit is None or not path:
        return None
    if problem := _segments_problem(destination_type, "path", _segments(path) + 1):
        return problem
    longest = limit.measure(path) + 1 + NAME_BYTES
    if longest <= limit.longest:
        return None
    return (
        f"path: with a file name of up to {NAME_BYTES} bytes under it, a key may reach "
        f"{longest:,} {limit.unit}, over {limit.store}'s limit of {limit.longest:,} {limit.unit} "
        "per object; shorten the path"
    )


def template_problem(destination_type: str, path: str, template: str) -> str | None:
    """Why keys under `path` with `template`'s folders may pass the store's limit, or None."""
    limit = LIMITS.get(destination_type)
    if limit is None:
        return None
    count = _segments(path) + len(path_template.parse(template)) + 1
    if problem := _segments_problem(destination_type, "path_template", count):
        return problem
    prefix = limit.measure(path)
    folders = path_template.longest(template, limit.measure)
    longest = prefix + (1 if path else 0) + folders + 1 + NAME_BYTES
    if longest <= limit.longest:
        return None
    return (
        f"path_template: keys may reach {longest:,} {limit.unit} (destination.path {prefix} + "
        f"folders up to {folders} + a file name up to {NAME_BYTES} + separators), over "
        f"{limit.store}'s limit of {limit.longest:,} {limit.unit} per object; use fewer or "
        "shorter folders"
    )


def _segments(path: str) -> int:
    """Folders in a destination's `path` (the model keeps it without empty parts)."""
    return len([p for p in path.split("/") if p])


def _segments_problem(destination_type: str, field: str, count: int) -> str | None:
    if destination_type != "azure" or count <= AZURE_SEGMENTS:
        return None
    return (
        f"{field}: a blob name would have {count} path segments (folders and the file name), "
        f"over Azure Blob Storage's limit of {AZURE_SEGMENTS}; use fewer folders"
    )
