"""The bad-config corpus through the parse Airflow does: `DagBag` of the repository's `dags/`.

Beside each bad file sits a good config; the good DAG must load, no bad export may have a DAG,
and the one import error (`export_config_errors.py`) must name every bad file with its field.
All cases share one folder (one parse), plus a handful alone beside the good one.
"""

import os
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from bad_configs import GOOD_ID, VALID, Case, generated_cases, populate, static_cases
from conftest import REPO
from event_export.orchestration import dag_builder, factory

ERRORS_FILE = str(REPO / "dags" / "export_config_errors.py")
PARSING_DAG_ID = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


def _parse(folder: Path, monkeypatch) -> DagBag:
    monkeypatch.setenv("EES_EXPORTS_DIR", str(folder))
    monkeypatch.delenv(PARSING_DAG_ID, raising=False)
    return DagBag(dag_folder=REPO / "dags")


def _exports(bag: DagBag) -> set[str]:
    return {d for d in bag.dag_ids if d.startswith("export_")}


def _error_lines(bag: DagBag) -> list[str]:
    assert list(bag.import_errors) == [ERRORS_FILE], bag.import_errors.keys()
    return bag.import_errors[ERRORS_FILE].splitlines()


def _named(lines: list[str], case: Case, folder: Path) -> list[str]:
    return [ln for ln in lines if ln.startswith(case.line_prefix(folder)) and case.fragment in ln]


def _raise_for(export_id: str, original):
    def patched(config, *args):
        if config.export_id == export_id:
            raise RuntimeError(f"injected build failure for {export_id}")
        return original(config, *args)

    return patched


def test_every_bad_config_in_one_folder_is_named_and_the_good_dags_load(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    cases = populate(folder)
    # a valid config whose DAG does not build (the build fails inside dag_arguments)
    (folder / "build_raises.yaml").write_text(VALID.format(export_id="build_raises"))
    monkeypatch.setattr(dag_builder, "tags_for", _raise_for("build_raises", dag_builder.tags_for))
    bag = _parse(folder, monkeypatch)
    assert _exports(bag) == {f"export_{GOOD_ID}", "export_dup_twin", "export_clash_first"}
    lines = _error_lines(bag)
    assert f"ValueError: {len(cases) + 1} export config(s) are invalid and were skipped:" in lines
    for case in cases:
        assert _named(lines, case, folder), (case, [ln for ln in lines if case.file_name in ln])
    assert (
        f"{folder / 'build_raises.yaml'}: (dag): cannot build the DAG: RuntimeError: "
        "injected build failure for build_raises"
    ) in lines
    assert all(ln.isprintable() for ln in lines)


SINGLE = ["date_feb_30.yaml", "date_9999.yaml", "tag_int.yaml", "dup_destination.yaml",
          "nul_in_path.yaml", "upper.YAML", "raw_nul_byte.yaml", "named_pipe.yaml"]  # fmt: skip


@pytest.mark.parametrize("name", SINGLE)
def test_one_bad_config_alone_beside_a_good_one(tmp_path, monkeypatch, name):
    case = next(c for c in static_cases() + generated_cases() if c.file_name == name)
    folder = tmp_path / "exports"
    populate(folder, [case])
    bag = _parse(folder, monkeypatch)
    assert _exports(bag) == {f"export_{GOOD_ID}"}
    lines = _error_lines(bag)
    assert "ValueError: 1 export config(s) are invalid and were skipped:" in lines
    assert len(_named(lines, case, folder)) == 1
    assert len([ln for ln in lines if ln.startswith(str(folder))]) == 1


def _same_shard_ids() -> tuple[str, str]:
    ids = [f"sibling_{i}" for i in range(40)]
    first = ids[0]
    return first, next(i for i in ids[1:] if factory.shard_of(i) == factory.shard_of(first))


def test_a_dag_that_fails_to_build_costs_no_other_dag_of_its_file(tmp_path, monkeypatch):
    broken, sibling = _same_shard_ids()
    folder = tmp_path / "exports"
    populate(folder, [])
    for export_id in (broken, sibling):
        (folder / f"{export_id}.yaml").write_text(VALID.format(export_id=export_id))
    # fails in the tasks' part of the build, after dag_arguments passed
    monkeypatch.setattr(dag_builder, "build_dag", _raise_for(broken, dag_builder.build_dag))
    bag = _parse(folder, monkeypatch)
    assert _exports(bag) == {f"export_{GOOD_ID}", f"export_{sibling}"}
    assert bag.import_errors == {}


def test_each_export_lives_in_the_dag_file_of_its_shard_and_a_worker_reads_only_that(
    tmp_path, monkeypatch
):
    folder = tmp_path / "exports"
    populate(folder, [])
    ids = [f"spread_{i}" for i in range(24)]
    for export_id in ids:
        (folder / f"{export_id}.yaml").write_text(VALID.format(export_id=export_id))
    shard_files = sorted(p.name for p in (REPO / "dags").glob("exports*.py"))
    assert shard_files == [f"exports_{i:02d}.py" for i in range(factory.SHARDS)]
    bag = _parse(folder, monkeypatch)
    assert _exports(bag) == {f"export_{i}" for i in [*ids, GOOD_ID]}
    for export_id in [*ids, GOOD_ID]:
        fileloc = Path(bag.dags[f"export_{export_id}"].fileloc).name
        assert fileloc == f"exports_{factory.shard_of(export_id):02d}.py"
    assert len({factory.shard_of(i) for i in ids}) >= 6  # spread, not piled on one file
    # a worker running one task parses one file with the DAG id in its context
    monkeypatch.setenv(PARSING_DAG_ID, "export_spread_3")
    own = REPO / "dags" / f"exports_{factory.shard_of('spread_3'):02d}.py"
    assert DagBag(dag_folder=own).dag_ids == ["export_spread_3"]
    other = next(p for p in (REPO / "dags").glob("exports_*.py") if p != own)
    assert DagBag(dag_folder=other).dag_ids == []
    assert os.environ[PARSING_DAG_ID] == "export_spread_3"


def test_daily_zips_of_one_client_into_one_folder_keep_only_the_first_dag(tmp_path, monkeypatch):
    clashes = [c for c in generated_cases() if c.file_name.startswith("clash_")]
    folder = tmp_path / "exports"
    populate(folder, clashes)
    holder = factory.shard_of("clash_first")
    assert all(factory.shard_of(Path(c.file_name).stem) != holder for c in clashes)
    bag = _parse(folder, monkeypatch)
    assert _exports(bag) == {f"export_{GOOD_ID}", "export_clash_first"}
    lines = _error_lines(bag)
    assert f"ValueError: {len(clashes)} export config(s) are invalid and were skipped:" in lines
    for case in clashes:
        assert len(_named(lines, case, folder)) == 1, case
