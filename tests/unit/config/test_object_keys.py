"""Object-key limits at config load (config/object_keys.py): the worst case it computes is the
longest key a run really renders, and configs fail exactly past the store's limit. (The corpus
runs failing ones through the loader and Airflow's parse: bad_configs/*key_too_long.yaml.)"""

from datetime import date

import pytest
from event_export.config import object_keys, path_template
from event_export.config.model import ExportConfig
from event_export.pipeline import naming
from pydantic import ValidationError

EIGHT_EVENTS = "/".join(["{event}"] * 8)
WIDE_PATH = "/".join(["é" * 127] * 6)  # 767 characters, 1,529 bytes


def _config(destination: dict, **fields) -> ExportConfig:
    base = {"client_id": "acme", "export_id": "keys", "profile": "gcp_export"}
    return ExportConfig.model_validate(base | {"destination": destination} | fields)


def test_the_worst_case_is_what_a_long_event_name_really_renders():
    assert object_keys.NAME_BYTES == naming.MAX_FINAL_BYTES  # the names' own bound
    assert path_template.longest(EIGHT_EVENTS) == 8 * path_template.EVENT_BYTES + 7
    folders = naming.template_folder(EIGHT_EVENTS, {}, "x" * 300)
    assert len(folders.encode()) == 807  # an ASCII name reaches it exactly
    event = "खरीदारी पूरी " * 40  # multi-byte: cut a little short of the bounds, never past
    [name] = naming.gcp_event_file_names(
        {event: 1}, "1234567890", "1793557800", date(2026, 11, 1), "db1", "csv.gz"
    )[event]
    key = f"exports/{naming.template_folder(EIGHT_EVENTS, {}, event)}/{name}"
    assert 1000 < len(key.encode()) <= len("exports") + 807 + object_keys.NAME_BYTES + 2


def test_keys_fail_exactly_past_the_limit_and_other_destinations_are_not_held():
    s3 = {"type": "s3", "conn_id": "c", "bucket": "acme-bucket"}
    assert _config(s3 | {"path": "acme"}, path_template=EIGHT_EVENTS)  # 1,024 bytes: fits
    with pytest.raises(ValidationError, match=r"path_template: keys may reach 1,025 bytes"):
        _config(s3 | {"path": "acme1"}, path_template=EIGHT_EVENTS)
    sftp = {"type": "sftp", "conn_id": "c", "path": "a" * 250}
    assert _config(sftp, path_template=EIGHT_EVENTS)  # no key: folder names are held to 255
    # Azure counts characters: a path of 767 characters (1,529 bytes) leaves room there
    assert _config({"type": "azure", "conn_id": "c", "container": "acme", "path": WIDE_PATH})
    with pytest.raises(ValidationError, match=r"a key may reach 1,741 bytes, over S3's limit"):
        _config(s3 | {"path": WIDE_PATH})


def test_azure_blob_names_hold_at_most_254_path_segments():
    azure = {"type": "azure", "conn_id": "c", "container": "acme"}
    folders = "/".join(["a"] * 253)  # + the file name: 254 segments, Azure's limit
    assert _config(azure | {"path": folders})
    with pytest.raises(ValidationError, match=r"path: a blob name would have 255 path segments"):
        _config(azure | {"path": folders + "/a"})
    template = "{yyyy}/{mm}/{dd}/{event}"  # 4 folders
    assert _config(azure | {"path": "/".join(["a"] * 249)}, path_template=template)
    with pytest.raises(ValidationError, match=r"path_template: a blob name would have 255"):
        _config(azure | {"path": "/".join(["a"] * 250)}, path_template=template)
    s3 = {"type": "s3", "conn_id": "c", "bucket": "acme-bucket"}
    assert _config(s3 | {"path": folders + "/a"})  # S3 and GCS count bytes, not segments
