"""Exports that would write the same files into the same place (config/collisions.py): the first
in file-name order keeps the place, every later one fails alone, in every DAG file's shard."""

from __future__ import annotations

from pathlib import Path

import pytest
from event_export.config import collisions
from event_export.config.model import load_all, load_or_error
from event_export.orchestration.factory import shard_of

BASE = """\
client_id: {client}
export_id: {export_id}
schedule: {{timezone: Asia/Kolkata}}
destination: {destination}
"""
LOCAL = "{type: local, conn_id: demo_local, path: shared}"
S3 = "{{type: s3, conn_id: {}, bucket: bkt, path: {}}}"
GCS = "{{type: gcs, conn_id: {}, bucket: bkt}}"
AZURE = "{{type: azure, conn_id: {}, container: box}}"
GCP = "profile: gcp_export\nformat: json\n"


def write(folder: Path, export_id: str, destination: str = LOCAL, client: str = "acme", extra=""):
    path = folder / f"{export_id}.yaml"
    text = BASE.format(client=client, export_id=export_id, destination=destination)
    path.write_text(text + extra)
    return path


def loaded(folder: Path, select=None) -> tuple[list[str], dict[str, str]]:
    good, errors = load_all(folder, select)
    return sorted(c.export_id for c in good.values()), {e.path.stem: str(e) for e in errors}


def test_the_later_of_two_daily_zips_of_one_client_in_one_folder_is_refused_naming_both(tmp_path):
    write(tmp_path, "b_second")
    write(tmp_path, "a_first")
    good, errors = loaded(tmp_path)
    assert good == ["a_first"]
    assert list(errors) == ["b_second"]
    message = errors["b_second"]
    assert message.startswith(f"{tmp_path / 'b_second.yaml'}: destination.path: a_first.yaml ")
    assert "acme_<DDMMYYYY>.zip" in message and "local://demo_local/shared" in message


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        # another folder, another connection, another client: another place
        (LOCAL, "{type: local, conn_id: demo_local, path: shared/b}", False),
        (LOCAL, "{type: local, conn_id: other, path: shared}", False),
        # folders compare as a case-insensitive, normalising file system sees them
        (LOCAL, "{type: local, conn_id: demo_local, path: SHARED}", True),
        (LOCAL, "{type: local, conn_id: demo_local, path: /shared/}", True),
        (
            "{type: sftp, conn_id: s, path: caf\u00e9}",
            "{type: sftp, conn_id: s, path: CAFE\u0301}",
            True,
        ),
        ("{type: ftp, conn_id: f, path: Out}", "{type: ftp, conn_id: f, path: out}", True),
        # object stores: keys are case-sensitive; S3 and GCS buckets are global names
        (S3.format("a", "p"), S3.format("b", "p"), True),
        (S3.format("a", "p"), S3.format("a", "P"), False),
        (GCS.format("a"), GCS.format("b"), True),
        (S3.format("a", "''"), GCS.format("a"), False),
        # an Azure container is named within the connection's storage account
        (AZURE.format("a"), AZURE.format("a"), True),
        (AZURE.format("a"), AZURE.format("b"), False),
    ],
)  # fmt: skip
def test_what_counts_as_one_place(tmp_path, first, second, clash):
    write(tmp_path, "a_first", first)
    write(tmp_path, "b_second", second)
    good, errors = loaded(tmp_path)
    assert good == (["a_first"] if clash else ["a_first", "b_second"])
    assert list(errors) == (["b_second"] if clash else [])


def test_other_clients_and_gcp_exports_share_a_folder(tmp_path):
    write(tmp_path, "a_acme")
    write(tmp_path, "b_globex", client="globex")
    write(tmp_path, "c_gcp", extra=GCP)  # its names carry a request id made from its export id
    write(tmp_path, "d_gcp", extra=GCP)
    assert loaded(tmp_path) == (["a_acme", "b_globex", "c_gcp", "d_gcp"], {})


def test_a_broken_earlier_file_holds_nothing(tmp_path):
    write(tmp_path, "a_broken", extra="schedule_typo: 1\n")
    write(tmp_path, "b_good")
    write(tmp_path, "c_later")
    good, errors = loaded(tmp_path)
    assert good == ["b_good"]
    assert "Extra inputs" in errors["a_broken"] and "b_good.yaml already" in errors["c_later"]


def _ids_by_shard(count: int) -> list[str]:
    """`count` export ids, sorted, each in a shard of its own."""
    ids, shards = [], set()
    for i in range(1000):
        export_id = f"x{i:03d}"
        if shard_of(export_id) not in shards:
            ids.append(export_id)
            shards.add(shard_of(export_id))
        if len(ids) == count:
            return ids
    raise AssertionError("not enough shards")


def test_each_shard_refuses_its_own_later_configs_seeing_holders_in_other_shards(tmp_path):
    first, second, third = _ids_by_shard(3)
    write(tmp_path, first)
    # the later ones spell the client with YAML escapes: only the model sees 'acme'
    write(tmp_path, second, client='"\\x61cme"')
    write(tmp_path, third, client='"\\u0061cme"')
    for export_id in (first, second, third):
        shard = shard_of(export_id)
        good, errors = loaded(tmp_path, lambda stem, shard=shard: shard_of(stem) == shard)
        if export_id == first:
            assert (good, errors) == ([first], {})
        else:
            assert good == [] and list(errors) == [export_id]
            assert f"{first}.yaml already delivers" in errors[export_id]


def test_a_holder_in_another_shard_is_found_when_its_client_id_is_an_escape(tmp_path):
    first, second = _ids_by_shard(2)
    write(tmp_path, first, client='"\\x61\\x63me"')  # no 'acme' in this file's bytes
    write(tmp_path, second)
    assert b"acme" not in (tmp_path / f"{first}.yaml").read_bytes()
    shard = shard_of(second)
    good, errors = loaded(tmp_path, lambda stem: shard_of(stem) == shard)
    assert good == [] and f"{first}.yaml already delivers" in errors[second]


def test_a_shard_reads_in_full_only_the_other_files_that_could_name_its_clients(tmp_path):
    mine = _ids_by_shard(1)[0]
    write(tmp_path, mine, client="zeta")
    others = [f"o{i:03d}" for i in range(200) if shard_of(f"o{i:03d}") != shard_of(mine)]
    for export_id in others:
        write(tmp_path, export_id, client="acme")
    write(tmp_path, others[0], client="zeta", destination="{type: local, conn_id: c, path: z}")
    seen = []

    def load(path):
        seen.append(path.stem)
        return load_or_error(path)

    good, errors = load_all(tmp_path, lambda stem: shard_of(stem) == shard_of(mine), load)
    assert [c.export_id for c in good.values()] == [mine] and errors == []
    assert sorted(seen) == sorted([mine, others[0]])  # the one other file naming 'zeta'


def test_fold_is_what_file_names_are_compared_by():
    from event_export.pipeline import naming

    assert naming.fold is collisions.fold
    assert collisions.fold("Caf\u00e9") == collisions.fold("CAFE\u0301")
