"""Folders from a path_template for every hostile event name: never empty, absolute or
escaping, every folder name portable and within 255 bytes, the event made safe exactly as the
file names make it (the same function), and the dates in the export's timezone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from event_export.pipeline import naming
from hostile_names import HOSTILE_EVENTS, portable_problems

TEMPLATES = (
    "dt={yyyy}-{mm}-{dd}/event={event}",
    "{event}",
    "{event}/{event}-{hh}",
    "x" * 155 + "{event}",
)


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_hostile_event_gives_safe_relative_folders(template):
    values = naming.template_values(datetime(2026, 11, 1), "acme", "0123456789")
    for event in HOSTILE_EVENTS:
        path = naming.template_folder(template, values, event)
        parts = path.split("/")
        assert path and not path.startswith("/") and "\\" not in path
        assert len(parts) == template.count("/") + 1, (event, path)  # no separator added
        assert all(p not in ("", ".", "..") for p in parts), (event, path)
        for part in parts:  # a folder is never written under a temporary name: 255 bytes
            problems = [m for m in portable_problems([part]) if "bytes" not in m]
            assert problems == [] and len(part.encode()) <= 255, (event, path, problems)


def test_the_event_part_is_the_safe_file_name_part():
    values = naming.template_values(datetime(2026, 11, 1), "acme", "0123456789")
    assert naming.template_folder("e={event}", values, "add to\tcart") == "e=add-to-cart"
    assert naming.template_folder("{event}", values, "..") == "-"
    assert naming.template_folder("{event}", values, "../../etc/passwd") == "-..-etc-passwd"


def test_dates_are_the_period_start_in_the_exports_timezone():
    start = datetime(2026, 10, 31, 18, 30, tzinfo=UTC).astimezone(ZoneInfo("Asia/Kolkata"))
    values = naming.template_values(start, "acme", "0123456789")
    folder = naming.template_folder("{yyyy}/{mm}/{dd}/{hh}/{export_id}-{request_id}", values)
    assert folder == "2026/11/01/00/acme-0123456789"


def test_event_without_a_value_is_refused():
    values = naming.template_values(datetime(2026, 11, 1), "acme", "0123456789")
    with pytest.raises(ValueError, match="no value"):
        naming.template_folder("{event}", values)
