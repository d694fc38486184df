"""Reading one config file into plain Python data, refusing what PyYAML would let slip by.

Why a module of its own: PyYAML raises more than `YAMLError` (a `ValueError` for `2026-02-30`,
`KeyError`/`ValueError` for a bad `!!bool`/`!!int`), turns dates into Python objects behind the
model's back and lets a duplicate key silently replace the first. One such file used to take
every export down. Here every problem becomes a `ConfigProblem` naming the field (dotted path)
where one is known, and the line; validation of values stays in the pydantic model.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1_000_000  # a config is a few hundred bytes; a huge file is a mistake, not a config
MERGE_TAG = "tag:yaml.org,2002:merge"
# Bidirectional overrides and isolates (Trojan Source), line/paragraph separators, NEL: they
# reorder or break text on screen and in file names; with every C0/C1 control they are refused.
INVISIBLE = frozenset("\u0085\u061c\u200e\u200f\u2028\u2029") | frozenset(
    map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
)


def unsafe_character(text: str, allowed: str = "") -> tuple[int, str] | None:
    """The first control, bidi or separator character of `text` (index, character), or None."""
    for index, char in enumerate(text):
        code = ord(char)
        if char in allowed:
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F or char in INVISIBLE or 0xD800 <= code <= 0xDFFF:
            return index, char
    return None


def printable(text: str) -> str:
    """Text safe to show in a log, an import error or JSON: every character
    `unsafe_character` refuses (a file name may hold any of them, or undecodable bytes as
    lone surrogates) is written as an escape such as \\x00 or \\u202e."""
    out = []
    for char in text:
        if unsafe_character(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def describe(char: str) -> str:
    """U+202E (RIGHT-TO-LEFT OVERRIDE): how a refused character is named, never printed."""
    import unicodedata

    name = unicodedata.name(char, "") or {"\0": "NUL", "\x85": "NEXT LINE"}.get(char, "control")
    return f"U+{ord(char):04X} ({name})"


@dataclass
class ConfigProblem(Exception):
    """Why a file could not be read: `field` is a dotted path or "(file)"."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _scalar(kind: str, parse):
    """A constructor for !!int/!!float/!!bool that fails with the node's line, not a bare
    ValueError/KeyError; sexagesimal `07:00` stays text so a time is read as written."""

    def construct(loader: SafeConstructor, node: ScalarNode):
        if kind == "int" and ":" in str(node.value):
            return loader.construct_scalar(node)  # YAML 1.1 reads 07:00 as 420
        try:
            return parse(loader, node)
        except ConstructorError:
            raise
        except Exception as exc:
            raise ConstructorError(
                None, None, f"{node.value!r} is not a valid !!{kind}", node.start_mark
            ) from exc

    return construct


class ConfigLoader(yaml.CSafeLoader):
    """Safe loading; dates and timestamps stay strings (the model parses and range-checks
    them), and !!int/!!float/!!bool errors carry their line."""


ConfigLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)
ConfigLoader.add_constructor(
    "tag:yaml.org,2002:int", _scalar("int", SafeConstructor.construct_yaml_int)
)
ConfigLoader.add_constructor(
    "tag:yaml.org,2002:float", _scalar("float", SafeConstructor.construct_yaml_float)
)
ConfigLoader.add_constructor(
    "tag:yaml.org,2002:bool", _scalar("bool", SafeConstructor.construct_yaml_bool)
)


def _no_set(loader: SafeConstructor, node: Node):
    raise ConstructorError(None, None, "a !!set has no order: write a list", node.start_mark)


ConfigLoader.add_constructor("tag:yaml.org,2002:set", _no_set)


def _fields_by_position(root: Node) -> dict[tuple[int, int], str]:
    """Dotted field path of every node by its (line, column); refuses duplicate keys.

    Each node is visited once (aliases share nodes), so an alias bomb costs no more than its
    text."""
    where: dict[tuple[int, int], str] = {}
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        where.setdefault((node.start_mark.line, node.start_mark.column), path or "(file)")
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag == MERGE_TAG:
                    stack.append((value, path))
                    continue
                name = f"{path}.{key.value}" if path else str(key.value)
                line = key.start_mark.line + 1
                if key.value in first:
                    raise ConfigProblem(
                        name,
                        f"duplicate key {key.value!r} at line {line} (first at line "
                        f"{first[key.value]}): the second would silently replace the first",
                    )
                first[key.value] = line
                stack.append((value, name))
        elif isinstance(node, SequenceNode):
            stack.extend(
                (item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(node.value)
            )
    return where


def read_text(path: Path) -> str:
    """The file's text: a regular file of at most MAX_BYTES, UTF-8 (a BOM is allowed)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigProblem("(file)", "not a regular file")
        if info.st_size > MAX_BYTES:
            raise ConfigProblem(
                "(file)", f"{info.st_size:,} bytes: a config is at most {MAX_BYTES:,} bytes"
            )
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigProblem("(file)", f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise ConfigProblem("(file)", f"more than {MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigProblem(
            "(file)", f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        ) from exc
    if found := unsafe_character(text, allowed="\t\n\r"):
        line = text.count("\n", 0, found[0]) + 1
        raise ConfigProblem(
            "(file)", f"line {line}: control or bidi character {describe(found[1])}; remove it"
        )
    return text


def parse(text: str) -> object:
    """One YAML document as plain data; raises ConfigProblem, never anything else."""
    loader = ConfigLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f" at line {mark.line + 1}" if mark else ""
            raise ConfigProblem("(file)", f"not valid YAML{line}: {exc.problem}") from exc
        if node is None:
            return None
        where = _fields_by_position(node)
        try:
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            if mark is None:
                raise ConfigProblem("(file)", f"not valid YAML: {exc.problem}") from exc
            field = where.get((mark.line, mark.column), "(file)")
            raise ConfigProblem(
                field, f"not valid YAML at line {mark.line + 1}: {exc.problem}"
            ) from exc
    except ConfigProblem:
        raise
    except yaml.YAMLError as exc:
        raise ConfigProblem("(file)", f"not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigProblem("(file)", "nested too deeply") from exc
    finally:
        loader.dispose()


def read(path: Path) -> object:
    """Read and parse one config file; raises ConfigProblem only."""
    return parse(read_text(path))
