"""Which config edits are allowed: the product lets a recurring export change from its next run,
but never between events and user profiles, and never a one-time export. Nor may a change give
an export's delivery place (config/collisions.py) to another file: the first file in name order
holds a place, so a new file sorting before a running export would stop it.

Configs live in git, so the check compares each config with its version at a git ref (the branch
a change is merged into): `python -m event_export.config.edits --against origin/main`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from event_export.config import collisions, yaml_reader
from event_export.config.model import (
    CONFIG_SUFFIXES,
    ConfigError,
    ExportConfig,
    config_files,
    load_or_error,
)
from event_export.settings import exports_dir


def kind_family(kind: str) -> str:
    """events (all or selected) or profiles: the two kinds that cannot turn into each other."""
    return "profiles" if "profile" in kind else "events"


def edit_problems(old: ExportConfig, new: ExportConfig) -> list[str]:
    """Why an edit from `old` to `new` is refused (empty when it is allowed)."""
    problems = []
    if kind_family(old.kind) != kind_family(new.kind):
        problems.append(
            f"kind: an export cannot change between events and user profiles "
            f"({old.kind} -> {new.kind}); stop this export and create a new one"
        )
    if old.schedule.frequency == "one_time" and old != new:
        problems.append(
            "schedule.frequency: a one-time export cannot be edited; create a new export instead"
        )
    return problems


def _at_ref(ref: str, path: Path, repo: Path) -> ExportConfig | None:
    try:
        rel = path.resolve().relative_to(repo)
    except ValueError:  # a link out of the repository: nothing to compare with
        return None
    shown = subprocess.run(
        ["git", "-C", str(repo), "show", f"{ref}:{rel.as_posix()}"], capture_output=True, text=True
    )
    if shown.returncode:
        return None  # a new export: nothing to compare with
    try:
        return ExportConfig.model_validate(yaml_reader.parse(shown.stdout))
    except Exception:
        return None  # the old version was broken: any valid new version is an improvement


def check_against(ref: str, folder: Path) -> list[str]:
    repo = Path(
        subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    ).resolve()
    problems = []
    current: dict[Path, ExportConfig] = {}
    before: dict[Path, ExportConfig] = {}
    for path in config_files(folder):
        new = load_or_error(path)  # never raises, never blocks on a FIFO
        if isinstance(new, ConfigError):
            continue  # invalid configs are reported by `event_export.config.model check`
        current[path] = new
        old = _at_ref(ref, path, repo)
        if old is None:
            continue
        before[path] = old
        problems += [f"{path}: {p}" for p in edit_problems(old, new)]
    for path in _removed_since(ref, folder, repo, current):
        if (old := _at_ref(ref, path, repo)) is not None and old.export_id == path.stem:
            before[path] = old
    return problems + takeovers(current, before, ref)


def _removed_since(
    ref: str, folder: Path, repo: Path, current: dict[Path, ExportConfig]
) -> list[Path]:
    """The config files the folder held at `ref` that are not among `current` (removed, renamed
    or broken since): they held places at `ref` too."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-z", "--name-only", ref, "--", f"{folder.resolve()}/"],
        capture_output=True,
    )
    if listed.returncode:
        return []  # no such ref or folder there: nothing was removed
    names = [Path(os.fsdecode(n)).name for n in listed.stdout.split(b"\0") if n]
    paths = [folder / name for name in names if name.endswith(CONFIG_SUFFIXES)]
    return [p for p in paths if p not in current]


def takeovers(
    current: dict[Path, ExportConfig], before: dict[Path, ExportConfig], ref: str
) -> list[str]:
    """Files that now hold a place another file held at `ref` and still delivers to: the change
    would refuse that running export (its DAG goes) in favour of this one."""
    was = collisions.holders(before)
    problems = []
    for where, path in collisions.holders(current).items():
        old = was.get(where)
        if old in (None, path) or old not in current or collisions.place(current[old]) != where:
            continue  # the place was free, or is still its holder's, or its holder left it
        problems.append(
            f"{path}: destination.path: takes the place of {old.name}, which delivers the "
            f"daily zip of client {where[0]!r} to {current[path].destination.location} at "
            f"{ref}: {old.name} would be refused and stop; give this export another "
            "destination.path"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", default="HEAD", help="git ref holding the running configs")
    parser.add_argument("folder", nargs="?", type=Path, default=None)
    args = parser.parse_args(argv)
    problems = check_against(args.against, args.folder or exports_dir())
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(problems)} refused edit(s) against {args.against}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
