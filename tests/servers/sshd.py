"""OpenSSH sshd on 127.0.0.1 with its own config, host key and a real, throw-away user.

Needs root (sshd and useradd) and /usr/sbin/sshd, which scripts/setup.sh installs where missing.
The user's home and authorized keys are fresh folders under /tmp (the user must be able to reach
them); the user and the folders are removed when the server stops.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from servers.net import free_port, wait_for_port

SSHD = Path("/usr/sbin/sshd")


def keygen(path: Path, kind: str = "ed25519") -> str:
    """A key pair at `path`/`path`.pub; returns the public key line (`ssh-ed25519 AAAA…`)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "ees-test", "-f", str(path)],
        check=True,
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


class Sshd:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.user = f"ees{secrets.token_hex(4)}"
        self.password = f"pw-{secrets.token_urlsafe(12)}"
        self.host_key = keygen(workdir / "host_ed25519")
        self.client_key = keygen(workdir / "client_ed25519")
        self.client_private_key = (workdir / "client_ed25519").read_text()
        self.process: subprocess.Popen | None = None
        self.home = Path(tempfile.mkdtemp(prefix="ees-sftp-home-"))
        # sshd reads authorized keys as the user: they must sit where the user can read them.
        self.keys_dir = Path(tempfile.mkdtemp(prefix="ees-sftp-keys-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.keys_dir.chmod(0o755)
        (self.keys_dir / "authorized_keys").write_text(self.client_key + "\n")
        subprocess.run(
            ["useradd", "-M", "-d", str(self.home), "-s", "/bin/sh", self.user], check=True
        )
        subprocess.run(["chpasswd"], input=f"{self.user}:{self.password}\n", text=True, check=True)
        shutil.chown(self.home, self.user, self.user)
        self.home.chmod(0o755)
        self.port = free_port()
        config = self.workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.workdir / 'host_ed25519'}",
                    "PidFile none",
                    "UsePAM no",
                    "StrictModes no",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    f"AuthorizedKeysFile {self.keys_dir / 'authorized_keys'}",
                    f"AllowUsers {self.user}",
                    "Subsystem sftp internal-sftp",
                    "MaxStartups 50",
                    "LoginGraceTime 10",  # paramiko leaves a host-key-refused connection open
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config), "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "sshd.log").open("w"),
        )
        wait_for_port(self.port)

    def connection(self, port: int | None = None, **extra) -> dict:
        """An `sftp` connection with the password and the server's host key, unless overridden."""
        return {
            "conn_type": "sftp",
            "host": "127.0.0.1",
            "port": port or self.port,
            "login": self.user,
            "password": self.password,
            "extra": {"host_key": self.host_key, **extra},
        }

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        # -f: a session child may outlive the listener for a moment; the user goes regardless.
        subprocess.run(["userdel", "-f", self.user], check=False, capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.keys_dir, ignore_errors=True)
