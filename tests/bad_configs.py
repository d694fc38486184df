"""The corpus of bad export configs: every way a file has broken, or could break, the loader.

Why one place: the unit corpus (`load_all`), the DagBag corpus (what the dag-processor parses)
and the CLI check all run the same cases through the production path. Static cases are the
YAML files in `tests/dags/bad_configs/`, each starting with `# expect: <field>: <fragment>`;
cases that need the file system (raw bytes, FIFOs, symlinks, misnamed and hostile file names)
are written by `write_generated`. Every case's file name is its own export id where it can be,
so the error is the case's and not "export_id must equal the file name".
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from event_export.config.yaml_reader import MAX_BYTES, printable

CORPUS = Path(__file__).resolve().parent / "dags" / "bad_configs"
GOOD_ID = "good_one"
GOOD = """\
client_id: good
export_id: {export_id}
schedule: {{timezone: Asia/Kolkata, deadline: 7:30, start_date: 2026-10-01}}
destination: {{type: local, conn_id: demo_local, path: "{export_id}"}}
"""
VALID = GOOD.replace("client_id: good", "client_id: hostile")


@dataclass(frozen=True)
class Case:
    file_name: str  # as written in the folder (may hold any character)
    field: str
    fragment: str

    def line_prefix(self, folder: Path) -> str:
        """How the error line for this file starts: `<path>: <field>: `."""
        return f"{printable(str(folder / self.file_name))}: {self.field}: "


def static_cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        head = path.read_text(encoding="utf-8").splitlines()[0]
        field, fragment = head.removeprefix("# expect: ").split(": ", 1)
        cases.append(Case(path.name, field, fragment))
    return cases


def _valid(export_id: str) -> bytes:
    return VALID.format(export_id=export_id).encode()


def _clash(export_id: str) -> bytes:
    """A valid daily zip of client 'clash' into the folder 'shared'."""
    text = VALID.format(export_id=export_id).replace("client_id: hostile", "client_id: clash")
    return text.replace(f'path: "{export_id}"', "path: shared").encode()


GENERATED: dict[str, tuple[str, str, bytes | str | None]] = {
    # file name -> (field, fragment, content: bytes, "fifo", "dir", "->target" symlink)
    "raw_nul_byte.yaml": ("(file)", "line 3: control or bidi character U+0000 (NUL)", b""),
    "latin1.yaml": ("(file)", "not UTF-8 text: byte 0xe9", b""),
    "utf16.yaml": ("(file)", "not UTF-8 text: byte 0xff", b""),
    "huge.yaml": ("(file)", f"a config is at most {MAX_BYTES:,} bytes", b""),
    "deep_nesting.yaml": ("(file)", "exceeded maximum nesting depth", b""),
    "named_pipe.yaml": ("(file)", "not a regular file", "fifo"),
    "a_folder.yaml": ("(file)", "not a regular file", "dir"),
    "device.yaml": ("(file)", "not a regular file", "->/dev/zero"),
    "dangling.yaml": ("(file)", "cannot read", "->/nonexistent/target.yaml"),
    # names that are not `<export_id>.yaml`/`.yml`: reported, never silently skipped
    "upper.YAML": (
        "(file)",
        "not loaded: only <export_id>.yaml or .yml is read; rename to upper.yaml",
        None,
    ),
    "mixed.Yml": ("(file)", "rename to mixed.yml", None),
    "backup.yaml.bak": ("(file)", "rename to backup.yaml", None),
    "tilde.yml~": ("(file)", "rename to tilde.yml", None),
    "merged.yaml.orig": ("(file)", "rename to merged.yaml", None),
    "swap.yaml.swp": ("(file)", "rename to swap.yaml", None),
    f"{GOOD_ID}.yaml.bak": ("(file)", f"{GOOD_ID}.yaml exists, remove this copy", None),
    ".hidden.yaml": ("(file)", "not loaded: a hidden file", None),
    ".vim.yaml.swp": ("(file)", "a hidden file (an editor's lock or swap file?)", None),
    ".#lock.yaml": ("(file)", "not loaded: a hidden file", "->root@host.4242:1700000000"),
    # hostile file names: shown escaped, never raw, in every message
    os.fsdecode(b"\xff\xfe.yaml"): ("export_id", "must equal the file name '\\udcff\\udcfe'", None),
    "line\nbreak.yaml": ("export_id", "must equal the file name 'line\\nbreak'", None),
    "rlo\u202egnp.yaml": ("export_id", "must equal the file name 'rlo\\u202egnp'", None),
    # two files, one export id: the second is refused
    "dup_twin.yml": ("export_id", "'dup_twin' is already used by", None),
    # daily zips of one client into one folder (clash_first.yaml holds it): the later ones are
    # refused, each in a DAG file (shard) other than the holder's
    "clash_later.yaml": ("destination.path", "clash_first.yaml already delivers", None),
    "clash_folded.yaml": ("destination.path", "clash_first.yaml already delivers", None),
    "clash_quoted.yaml": ("destination.path", "clash_first.yaml already delivers", None),
}
# the valid file a generated case is refused beside; it loads
HOLDERS = {"dup_twin.yml": "dup_twin.yaml"} | {
    f"clash_{kind}.yaml": "clash_first.yaml" for kind in ("later", "folded", "quoted")
}


def generated_cases() -> list[Case]:
    return [Case(name, field, fragment) for name, (field, fragment, _) in GENERATED.items()]


def write_generated(folder: Path) -> None:
    contents = {
        "raw_nul_byte.yaml": _valid("raw_nul_byte").replace(b"Asia", b"As\0ia"),
        "latin1.yaml": _valid("latin1") + "description: café\n".encode("latin-1"),
        "utf16.yaml": _valid("utf16").decode().encode("utf-16"),
        "huge.yaml": _valid("huge") + b"# " + b"x" * MAX_BYTES + b"\n",
        "deep_nesting.yaml": _valid("deep_nesting")
        + b"description: "
        + b"[" * 100_000
        + b"]" * 100_000
        + b"\n",
        "clash_first.yaml": _clash("clash_first"),
        "clash_later.yaml": _clash("clash_later"),
        "clash_folded.yaml": _clash("clash_folded").replace(b"path: shared", b"path: Shared"),
        # the client id spelled with a YAML escape: no 'clash' in the file's bytes
        "clash_quoted.yaml": _clash("clash_quoted").replace(b"clash", b'"\\x63lash"', 1),
    }
    for name, (_, _, kind) in GENERATED.items():
        path = folder / name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir":
            path.mkdir()
        elif isinstance(kind, str) and kind.startswith("->"):
            path.symlink_to(kind.removeprefix("->"))
        elif name in contents:
            path.write_bytes(contents[name])
        else:  # a valid config under a name that must not load as it is
            stem = name.split(".")[0] or "hidden"
            path.write_bytes(
                _valid(
                    stem if stem.isascii() and stem.replace("_", "").isalnum() else "hostile_name"
                )
            )
    (folder / "dup_twin.yaml").write_bytes(_valid("dup_twin"))  # loads; the .yml one is refused
    (folder / "clash_first.yaml").write_bytes(contents["clash_first.yaml"])


def populate(folder: Path, only: list[Case] | None = None) -> list[Case]:
    """Write the good config and the bad cases (all, or `only`) into `folder`; the cases."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{GOOD_ID}.yaml").write_text(GOOD.format(export_id=GOOD_ID))
    cases = only if only is not None else static_cases() + generated_cases()
    generated = {c.file_name for c in generated_cases()}
    for case in cases:
        if case.file_name not in generated:
            shutil.copy(CORPUS / case.file_name, folder / case.file_name)
    if any(c.file_name in generated for c in cases):
        scratch = folder.parent / f"{folder.name}.generated"
        scratch.mkdir()
        write_generated(scratch)
        for case in cases:
            if case.file_name in generated:
                os.replace(scratch / case.file_name, folder / case.file_name)
        for holder in {HOLDERS[c.file_name] for c in cases if c.file_name in HOLDERS}:
            os.replace(scratch / holder, folder / holder)
        shutil.rmtree(scratch)
    return cases
