"""One-off (issue 19.7): do the daily zip's deflate streams depend on the CPU's feature set?

ISA-L picks its deflate routines by CPU features when it loads. This deflates the same members
with `pipeline.deflate.DeflateWriter` natively and under QEMU's user-mode CPU emulation as older
x86-64 CPUs (`qemu-x86_64 -cpu MODEL`: Haswell has AVX2 and no AVX-512, Nehalem SSE4.2 and no AVX,
qemu64 not even SSE4.2), and prints each stream's SHA-256. QEMU is not a project dependency:
`apt-get install qemu-user` first (Debian bookworm's 7.2 emulates up to AVX2). Slow under
emulation (about a minute per model). Usage:
    .venv/bin/python bench/isal_cpus.py [--models Haswell Nehalem qemu64] [--seeds 1 2 19]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def member(seed: int) -> bytes:
    """A CSV-like member of about 6 MB (several 1 MiB blocks) and an incompressible tail."""
    rng = random.Random(seed)
    words = ["नमस्ते", "مرحبا", "🎉", "plain", '"quoted"', "a,b", "2026-11-01T10:15:05.123-0500"]
    lines = [
        ",".join(rng.choice(words) if rng.random() < 0.8 else f"order-{rng.getrandbits(40)}"
                 for _ in range(9))
        for _ in range(60_000)
    ]  # fmt: skip
    return "\n".join(lines).encode() + rng.randbytes(200_000)


def deflate_here(seed: int) -> str:
    """This process's stream for `member(seed)`: its SHA-256 prefix and length."""
    from event_export.pipeline.deflate import DeflateWriter

    data, out = member(seed), io.BytesIO()
    writer = DeflateWriter(out, threads=2)
    for start in range(0, len(data), 100_003):
        writer.write(data[start : start + 100_003])
    writer.close()
    return f"{hashlib.sha256(out.getvalue()).hexdigest()[:16]} ({len(out.getvalue()):,} B)"


def main() -> None:
    parser = argparse.ArgumentParser(description="deflate bytes per emulated CPU model")
    parser.add_argument("--models", nargs="*", default=["Haswell", "Nehalem", "qemu64"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 19])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(deflate_here(args.child))
        return
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        raise SystemExit("isal_cpus: qemu-x86_64 not found (apt-get install qemu-user)")
    python = str(Path(sys.executable).resolve())  # QEMU runs the interpreter, not the venv's link
    paths = [str(REPO / "include"), *[p for p in sys.path if p.endswith("site-packages")]]
    env = {"PYTHONPATH": ":".join(paths)}
    differs = False
    for seed in args.seeds:
        native = deflate_here(seed)
        print(f"seed {seed}: native {native}", flush=True)
        for model in args.models:
            done = subprocess.run(
                [qemu, "-cpu", model, python, __file__, "--child", str(seed)],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            found = done.stdout.strip()
            same = found == native
            differs |= not same
            print(f"seed {seed}: {model:<8} {found} {'same' if same else 'DIFFERENT'}", flush=True)
    raise SystemExit(1 if differs else 0)


if __name__ == "__main__":
    main()
