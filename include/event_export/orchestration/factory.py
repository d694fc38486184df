"""The DAG factory: every valid config under the exports folder becomes one DAG.

A bad config, or one DAG whose build raises, must never take the others down: nothing here
raises for one export. Broken files and failed builds are returned as `ConfigError`s, and
`dags/export_config_errors.py` turns them into one visible import error.

The exports are spread over SHARDS DAG files (`dags/exports_00.py` ...) by a stable hash of the
export id, so the dag-processor parses each file within its import timeout however many configs
there are, and a file that still fails or times out costs only its own share. When a worker
parses a file for a single DAG, only that config is read.
"""

from __future__ import annotations

import logging
import re
import zlib
from datetime import timedelta
from pathlib import Path

from event_export.config.model import (
    DAG_ID_PREFIX,
    ConfigError,
    ExportConfig,
    load_all,
    load_or_error,
)
from event_export.config.yaml_reader import printable
from event_export.settings import exports_dir

log = logging.getLogger(__name__)
SHARDS = 8  # the DAG files dags/exports_00.py .. exports_07.py; see docs/performance.md
SHARD_FILE = re.compile(r"^exports_(\d\d)\.py$")
# a new or edited config's DAG appears within a few parses; an export still without one this
# long after its file changed lost it (its DAG file failed): health check and Exports page
MISSING_GRACE = timedelta(minutes=30)


def shard_of(export_id: str) -> int:
    """The shard (DAG file) of an export: CRC-32 of its id, stable across processes and
    Python versions (`hash()` is salted per process)."""
    return zlib.crc32(export_id.encode("utf-8", "surrogatepass")) % SHARDS


def shard_file(export_id: str) -> str:
    """The DAG file that declares an export: `dags/exports_NN.py`."""
    return f"dags/exports_{shard_of(export_id):02d}.py"


def shard_file_index(dag_file: str | Path) -> int:
    """The shard a DAG file builds, from its name `exports_NN.py`."""
    match = SHARD_FILE.match(Path(dag_file).name)
    if not match or int(match.group(1)) >= SHARDS:
        raise ValueError(f"{dag_file}: not one of the {SHARDS} export DAG files exports_NN.py")
    return int(match.group(1))


def _requested_dag_id() -> str | None:
    try:
        from airflow.sdk import get_parsing_context

        return get_parsing_context().dag_id
    except ImportError:  # pragma: no cover - older SDKs
        return None


def build_error(path: Path, exc: BaseException) -> ConfigError:
    """A DAG build that raised, reported like a config error (the exception names the cause)."""
    message = f"(dag): cannot build the DAG: {type(exc).__name__}: {exc}"
    return ConfigError(path, (printable(message),))


def _build(config: ExportConfig, path: Path) -> tuple[str, object] | ConfigError:
    from event_export.orchestration.dag_builder import build_dag

    try:
        return config.dag_id, build_dag(config, path)
    except Exception as exc:  # one export's DAG must not cost the file's other DAGs
        return build_error(path, exc)


def build_all(folder: Path | None = None, shard: int | None = None) -> dict[str, object]:
    """DAGs by id for every valid config (of one shard, if given); logs, never raises, for
    broken configs and failed builds."""
    folder = folder or exports_dir()
    wanted = _requested_dag_id()
    if wanted and wanted.startswith(DAG_ID_PREFIX):
        stem = wanted.removeprefix(DAG_ID_PREFIX)
        if shard is not None and shard_of(stem) != shard:
            return {}  # a worker asked another file for this DAG
        candidates = (folder / f"{stem}.yaml", folder / f"{stem}.yml")
        path = next((p for p in candidates if p.exists()), None)
        if path is not None:
            result = load_or_error(path)
            built = _build(result, path) if isinstance(result, ExportConfig) else result
            if isinstance(built, ConfigError):
                log.error("export skipped: %s", built)
                return {}
            return dict([built])
    select = None if shard is None else (lambda stem: shard_of(stem) == shard)
    good, errors = load_all(folder, select)
    dags: dict[str, object] = {}
    for path, config in good.items():
        built = _build(config, path)
        if isinstance(built, ConfigError):
            errors.append(built)
        else:
            dags[built[0]] = built[1]
    for err in errors:
        log.error("export skipped: %s", err)
    return dags


def build_shard(dag_file: str | Path, folder: Path | None = None) -> dict[str, object]:
    """What `dags/exports_NN.py` declares: the DAGs of its shard."""
    return build_all(folder, shard=shard_file_index(dag_file))


def config_errors(folder: Path | None = None) -> list[ConfigError]:
    """Every broken file, and every valid config whose DAG arguments do not build.

    Building `DAG(**dag_arguments(...))` covers what the config decides (schedule, start date,
    deadline, tags, params) for a fraction of a full build (3.2 against 18 CPU-s at 5,000
    configs); the tasks are the same for every export (plus `check_request` for one-time ones),
    so a failure there is a code bug that fails every export alike, and the tests catch it."""
    good, errors = load_all(folder or exports_dir())
    return sorted(errors + dag_argument_errors(good), key=lambda e: str(e.path))


def dag_argument_errors(good: dict[Path, ExportConfig]) -> list[ConfigError]:
    """The loaded configs whose DAG arguments do not build (see `config_errors`)."""
    from airflow.sdk import DAG

    from event_export.orchestration.dag_builder import dag_arguments

    errors = []
    for path, config in good.items():
        try:
            DAG(**dag_arguments(config, path))
        except Exception as exc:
            errors.append(build_error(path, exc))
    return errors
