"""Throw-away OpenPGP keys made with GnuPG for the encryption tests, and a corpus of bad ones.

A client's key pair lives in its own GNUPGHOME (no passphrase, ed25519 + cv25519: generated in
about 0.1 s); `decrypt` is what the client runs. The bad keys are what a connection may really
hold: nothing, a private key pasted by mistake, a signing-only key, an expired or revoked one, a
cut or garbled block. Every agent a home started is stopped by `stop_agents`.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GPG = ["gpg", "--batch", "--no-tty", "--quiet", "--passphrase", ""]


@dataclass(frozen=True)
class KeyPair:
    home: Path
    email: str

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*GPG, "--homedir", str(self.home), "--pinentry-mode", "loopback", *args],
            check=True,
            capture_output=True,
            **kwargs,
        )

    @property
    def public(self) -> str:
        return self.run("--armor", "--export", self.email).stdout.decode()

    @property
    def private(self) -> str:
        return self.run("--armor", "--export-secret-keys", self.email).stdout.decode()

    def decrypt(self, source: Path, target: Path) -> Path:
        """As the client does: `gpg --decrypt`, file to file."""
        target.parent.mkdir(parents=True, exist_ok=True)
        self.run("--output", str(target), "--decrypt", str(source))
        return target

    def stop_agent(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True
        )


def make_key(folder: Path, name: str, usage: str = "encrypt", subkey_days: int = 365) -> KeyPair:
    """A key pair under `folder/name`: `usage` encrypt (ed25519 primary for a year + cv25519
    subkey for `subkey_days`), sign (no encryption key), expired (created 2020, a day's
    validity) or revoked."""
    home = folder / name
    home.mkdir(mode=0o700, parents=True)
    pair = KeyPair(home, f"{name}@client.example")
    uid = f"{name} <{pair.email}>"
    if usage == "expired":
        old = ("--faked-system-time", "20200101T000000")
        pair.run(*old, "--quick-gen-key", uid, "ed25519", "sign", "1d")
        fpr = fingerprint(pair)
        pair.run(*old, "--quick-add-key", fpr, "cv25519", "encr", "1d")
        return pair
    pair.run("--quick-gen-key", uid, "ed25519", "sign", "1y")
    if usage != "sign":
        pair.run("--quick-add-key", fingerprint(pair), "cv25519", "encr", f"{subkey_days}d")
    if usage == "revoked":
        certificate = home / "openpgp-revocs.d" / f"{fingerprint(pair)}.rev"
        armored = certificate.read_text().replace(":-----BEGIN", "-----BEGIN")
        (home / "revoke.asc").write_text(armored)
        pair.run("--import", str(home / "revoke.asc"))
    return pair


def fingerprint(pair: KeyPair) -> str:
    listing = pair.run("--with-colons", "--list-keys", pair.email).stdout.decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


def set_key_connection(conn_id: str, public_key: object | None) -> None:
    """An Airflow connection holding the key as extra `public_key` (None: no such extra)."""
    extra = {} if public_key is None else {"public_key": public_key}
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "generic", "extra": extra}
    )


def bad_keys(folder: Path, good: KeyPair) -> dict[str, tuple[object | None, str]]:
    """What a key connection may wrongly hold -> (extra public_key, the check's code)."""
    public = good.public
    lines = public.splitlines()
    cut = "\n".join(lines[: len(lines) // 2] + lines[-1:])  # the middle of the block lost
    return {
        "no_public_key": (None, "encryption_key_missing"),
        "empty": ("", "encryption_key_missing"),
        "not_text": (12345, "encryption_key_unreadable"),
        "an_ssh_key": ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA c", "encryption_key_unreadable"),
        "private_key": (good.private, "encryption_key_unreadable"),
        "cut_block": (cut, "encryption_key_unreadable"),
        "garbled": (public.replace("m", "Q").replace("A", "z"), "encryption_key_unreadable"),
        "signing_only": (make_key(folder, "signer", "sign").public, "encryption_key_unusable"),
        "expired": (make_key(folder, "lapsed", "expired").public, "encryption_key_unusable"),
        "revoked": (make_key(folder, "revoked", "revoked").public, "encryption_key_unusable"),
    }
