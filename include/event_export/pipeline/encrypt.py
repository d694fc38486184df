"""OpenPGP encryption of delivered files to the client's public key (config `encrypt`).

Why here, and once: `ExportRun.package` calls `encrypt_deliveries` on the files its naming
profile just described (the daily zip as one file, each gcp_export file on its own), so upload,
validate and the manifest see only the encrypted bytes: their sizes and checksums are the
delivered file's, and nothing after this point knows about encryption.

Why the `gpg` binary: it streams (a file of any size through a pipe in 1 MiB blocks, hashed on
the way to disk), is what the clients decrypt with, and reads the key formats they send. Each
call works in a throw-away GNUPGHOME holding only the client's public key (`--trust-model
always`: the key came from our own connection, there is no web of trust to consult), starts no
agent, and is removed afterwards. `--compress-algo none`: the daily zip is deflated already and a
gcp_export file is compressed by its own `compression` setting, so OpenPGP's zlib would only cost
time (docs/performance.md).

The session key is random, so an encrypted file differs from one run to the next even when the
data does not: reruns of an encrypted export are not byte-identical (their plaintext is).
The key is public, but it lives in an Airflow connection (extra `public_key`) like every other
credential, so a config never carries it and it can be replaced without a commit; it is never
logged, and no message quotes it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from event_export.destinations import explanations
from event_export.destinations.errors import DeliveryError
from event_export.pipeline.handoffs import DeliveryDict
from event_export.pipeline.naming import MAX_FINAL_BYTES, fit_bytes
from event_export.pipeline.staging import Workspace

SUFFIX = ".pgp"
PUBLIC_KEY_EXTRA = "public_key"  # where the connection holds the ASCII-armored key
BLOCK = 1024 * 1024
WORKERS = 2  # gpg processes at once (one per core here); each holds a few MiB
MAX_KEY_BYTES = 1024 * 1024  # a public key with many subkeys and signatures is tens of KB
GPG_TIMEOUT = 30  # seconds for the key commands (import, list); encryption has none
_EXTENSION = re.compile(r"(\.[A-Za-z0-9]{1,8}){1,2}$")  # .csv, .zip, .parquet.gzip, .json.gz


@dataclass(frozen=True)
class PublicKey:
    """The client's key as checked: the primary keys' fingerprints (encrypted to, each) and the
    earliest expiry among them (None: never)."""

    fingerprints: tuple[str, ...]
    expires: datetime | None


@dataclass(frozen=True)
class Keyring:
    """A throw-away GNUPGHOME holding only the client's public key."""

    home: Path
    key: PublicKey


def gpg_binary() -> str:
    found = shutil.which("gpg")
    if not found:
        raise DeliveryError(
            "gpg (GnuPG) is not installed on this worker, and the export asks for OpenPGP "
            "encryption: install the gnupg package (scripts/setup.sh does)."
        )
    return found


def _gpg(home: Path, *args: str) -> list[str]:
    return [
        gpg_binary(),
        "--homedir",
        str(home),
        "--batch",
        "--no-tty",
        "--quiet",
        "--no-options",
        "--no-autostart",  # public-key operations need no agent; none is left running
        "--no-greeting",
        *args,
    ]


def armored_key(conn_id: str) -> str:
    """The connection's public key text; SetupError when the connection or the key is missing."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise explanations.connection_missing(conn_id) from None
    try:
        extra = connection.extra_dejson
    except Exception:  # an extra that is not JSON: Airflow logs it and gives {} in most versions
        extra = {}
    value = extra.get(PUBLIC_KEY_EXTRA) if isinstance(extra, dict) else None
    if not value:
        raise explanations.encryption_key_missing(conn_id)
    if not isinstance(value, str):
        raise explanations.encryption_key_unreadable(conn_id, "it is not text")
    return value


def _refusal(text: str) -> str | None:
    """Why the text cannot be a public key, before gpg sees it (a private key never reaches a
    keyring, and is never echoed)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"more than {MAX_KEY_BYTES // 1024} KiB"
    if "PRIVATE KEY BLOCK" in text:
        return "it is a private key; only the client's public key belongs here"
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        return "no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line"
    return None


def _when(field: str) -> datetime | None:
    return datetime.fromtimestamp(int(field), UTC) if field.isdigit() else None


def _listing(lines: list[str], conn_id: str, now: datetime) -> PublicKey:
    """The keys a colon listing (`--with-colons`) shows, each able to encrypt; else SetupError.
    A key's expiry is its latest valid encryption (sub)key's, within the primary key's own."""
    records = [line.split(":") for line in lines]
    if any(r[0] in ("sec", "ssb") for r in records):
        raise explanations.encryption_key_unreadable(conn_id, "it holds a private key")
    fingerprints: list[str] = []
    keys: list[tuple[datetime | None, list[datetime | None]]] = []  # primary, encryption subkeys
    pending = False  # the next fpr record is a primary key's
    for fields in records:
        kind, validity, caps = fields[0], fields[1], fields[11] if len(fields) > 11 else ""
        when = _when(fields[6]) if len(fields) > 6 else None
        if kind == "pub":
            if validity == "r":
                raise explanations.encryption_key_unusable(conn_id, "the key has been revoked")
            if validity == "e" or (when is not None and when <= now):
                day = f" on {when:%Y-%m-%d}" if when else ""
                raise explanations.encryption_key_unusable(conn_id, f"the key expired{day}")
            if "D" in caps:
                raise explanations.encryption_key_unusable(conn_id, "the key is disabled")
            if "E" not in caps:
                raise explanations.encryption_key_unusable(
                    conn_id,
                    "it has no valid encryption key: a signing-only key, or its encryption "
                    "subkey expired or was revoked",
                )
            keys.append((when, [when] if "e" in caps else []))
            pending = True
        elif kind == "sub" and keys and "e" in caps and validity not in ("e", "r", "i"):
            if when is None or when > now:
                keys[-1][1].append(when)
        elif kind == "fpr" and pending:
            fingerprints.append(fields[9])
            pending = False
    if not fingerprints:
        raise explanations.encryption_key_unreadable(conn_id, "no OpenPGP public key in it")
    ends = [_usable_until(primary, subkeys) for primary, subkeys in keys]
    known = [e for e in ends if e is not None]
    return PublicKey(tuple(fingerprints), min(known) if known else None)


def _usable_until(primary: datetime | None, subkeys: list[datetime | None]) -> datetime | None:
    latest = None if (not subkeys or None in subkeys) else max(s for s in subkeys if s)
    if primary is None:
        return latest
    return primary if latest is None else min(primary, latest)


def _run(command: list[str], conn_id: str, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=GPG_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"gpg took over {GPG_TIMEOUT} s to {what} ({conn_id})") from None


@contextmanager
def keyring(conn_id: str, now: datetime | None = None) -> Iterator[Keyring]:
    """The connection's key imported into a fresh GNUPGHOME, checked able to encrypt; the home
    is removed on exit. SetupError for a missing, unreadable, expired or signing-only key."""
    text = armored_key(conn_id)
    if reason := _refusal(text):
        raise explanations.encryption_key_unreadable(conn_id, reason)
    home = Path(tempfile.mkdtemp(prefix="ees-gpg-"))  # mode 0700, as gpg wants its home
    try:
        source = home / "client.asc"
        source.write_text(text)
        imported = _run(_gpg(home, "--import", str(source)), conn_id, "import the key")
        if imported.returncode != 0:
            raise explanations.encryption_key_unreadable(conn_id, _gpg_reason(imported.stderr))
        listed = _run(_gpg(home, "--with-colons", "--list-keys"), conn_id, "list the key")
        if listed.returncode != 0:
            raise explanations.encryption_key_unreadable(conn_id, _gpg_reason(listed.stderr))
        key = _listing(listed.stdout.splitlines(), conn_id, now or datetime.now(UTC))
        yield Keyring(home, key)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _gpg_reason(stderr: str) -> str:
    """gpg's own words, short: its messages name packets and key ids, never key material."""
    lines = [line.removeprefix("gpg: ").strip() for line in stderr.splitlines() if line.strip()]
    return "; ".join(lines[-2:])[:200] or "gpg refused it"


def check_key(conn_id: str, now: datetime | None = None) -> PublicKey:
    """What the destination check asks: can files be encrypted to this connection's key?"""
    with keyring(conn_id, now) as ring:
        return ring.key


def encrypt_file(ring: Keyring, source: Path, target: Path) -> tuple[int, str]:
    """Encrypt `source` to the keyring's key(s) into `target` (whole or absent), streaming;
    returns the encrypted size and SHA-256, taken while writing."""
    command = _gpg(
        ring.home,
        "--trust-model",
        "always",
        "--compress-algo",
        "none",
        "--encrypt",
        *[arg for fpr in ring.key.fingerprints for arg in ("--recipient", fpr)],
        "--output",
        "-",
        str(source),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            with process.stdout, partial.open("wb") as out:
                while block := process.stdout.read(BLOCK):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
            code = process.wait()
        except BaseException:  # our disk full, the task killed: no gpg left behind, no partial
            process.kill()
            process.wait()
            partial.unlink(missing_ok=True)
            raise
        errors.seek(0)
        said = errors.read().decode("utf-8", "replace")
    if code != 0:
        partial.unlink(missing_ok=True)
        raise DeliveryError(f"gpg could not encrypt {source.name}: {_gpg_reason(said)}")
    partial.replace(target)
    return size, digest.hexdigest()


def encrypted_name(name: str) -> str:
    """`<name>.pgp`, within the delivered-name limit: a name too long keeps its extension and
    its start, with a short hash of the whole (naming.fit_bytes), so names stay apart."""
    wanted = f"{name}{SUFFIX}"
    if len(wanted.encode()) <= MAX_FINAL_BYTES:
        return wanted
    match = _EXTENSION.search(name)
    extension = match.group(0) if match else ""
    stem = name[: len(name) - len(extension)]
    room = MAX_FINAL_BYTES - len(f"{extension}{SUFFIX}".encode())
    return f"{fit_bytes(stem, room)}{extension}{SUFFIX}"


def encrypt_deliveries(
    ws: Workspace, files: list[DeliveryDict], conn_id: str, out_dir: Path, workers: int = WORKERS
) -> list[DeliveryDict]:
    """Each file to deliver, encrypted: `.pgp` added to its name, size and SHA-256 of the
    encrypted bytes; rows, events and zip members as before (they describe the plaintext)."""
    if not files:
        return files
    with keyring(conn_id) as ring:

        def one(index: int) -> DeliveryDict:
            file = files[index]
            target = out_dir / f"{index:06d}{SUFFIX}"  # staged under a short name: any length
            size, sha256 = encrypt_file(ring, ws.fetch(file["path"]), target)
            return {
                **file,
                "name": encrypted_name(file["name"]),
                "path": ws.publish(target),
                "size": size,
                "sha256": sha256,
            }

        with ThreadPoolExecutor(max(1, min(workers, len(files)))) as pool:
            return list(pool.map(one, range(len(files))))
