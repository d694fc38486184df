#!/usr/bin/env bash
# Creates .venv with the pinned requirements and the project package; idempotent and quick when done.
# Everything a fresh machine needs is installed from here: Python packages from requirements.txt
# (no online constraint files) and, where missing, the Debian packages the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
VENV=${VENV:-.venv}
stamp="$VENV/.installed"
# `--no-test-tools` (make up): skip what only the tests start (Azurite, from npm: about 30 s in a
# fresh clone); `make test` installs it when it runs.
test_tools=1
[ "${1:-}" = "--no-test-tools" ] && test_tools=0

# Debian packages the tests and `make up` use: OpenSSH's sshd (sFTP) and ssh-keygen, openssl (the FTPS test
# certificate), unzip (archives are checked with `unzip -t`), gnupg (gpg encrypts the exports
# with `encrypt` and decrypts them in the tests) and headless chromium with its
# chromedriver (the Exports page's browser test). Checked on every run, installed only where missing.
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)  # OpenPGP encryption of deliveries
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)  # builds the payload scanner (below)
# `make up`'s metadata database: the machine's PostgreSQL on 127.0.0.1:5432 where one answers,
# else a private cluster made with initdb/pg_ctl from Debian's postgresql package
# (include/event_export/standalone/postgres.py).
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
  else
    echo "setup: installing ${missing[*]}"
    # Another apt or dpkg run holding the lock is waited for (up to 10 min), not a failure:
    # `update` takes the lists lock, which DPkg::Lock::Timeout does not cover, so it is retried.
    for _ in $(seq 60); do apt-get -o DPkg::Lock::Timeout=600 update -qq && break; sleep 10; done
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Azurite (the Azure Blob Storage emulator the Azure destination's tests start) from npm, into
# the project's own .tools/ (not global). A concurrent setup of this tree is waited for (flock);
# a failed download warns, and only the Azure tests then say what is missing.
AZURITE_VERSION=3.37.0
azurite_installed() {
  grep -qs "\"version\": \"$AZURITE_VERSION\"" .tools/node_modules/azurite/package.json
}
if [ "$test_tools" = 1 ] && ! azurite_installed && command -v npm >/dev/null 2>&1; then
  mkdir -p .tools
  (
    flock -w 900 9 || exit 0
    azurite_installed && exit 0
    echo "setup: installing azurite $AZURITE_VERSION into .tools/"
    npm install --prefix .tools --no-audit --no-fund --silent "azurite@$AZURITE_VERSION" \
      || echo "setup: npm could not install azurite; the Azure destination tests need it" >&2
  ) 9>.tools/.install.lock
fi

# the payload scanner extract and format read payloads with (pipeline/payload_cells.c, plain C,
# no Python headers) and format's CSV writer (csv_lines.c), one library: built where it is
# missing or older than a source, under 1 s; into a temporary name first, so a concurrent set-up
# never loads half a file. Without it they read payloads with DuckDB and write CSV with Arrow's
# kernels (slower, the same bytes).
scanner=include/event_export/pipeline/_payload_cells.so
sources="include/event_export/pipeline/payload_cells.c include/event_export/pipeline/csv_lines.c"
stale=$([ -f "$scanner" ] && find $sources -newer "$scanner" | head -1 || echo missing)
if [ -n "$stale" ]; then
  # shellcheck disable=SC2086  # two file names, no blanks in them
  if cc -O2 -shared -fPIC -o "$scanner.$$" $sources; then
    mv -f "$scanner.$$" "$scanner"
  else
    rm -f "$scanner.$$"
    echo "setup: could not build $scanner; format reads payloads with DuckDB" >&2
  fi
fi

if [ -f "$stamp" ] && [ "$stamp" -nt requirements.txt ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
uv=$(python3 -c 'import shutil,sys,sysconfig,os; p=shutil.which("uv") or os.path.join(sysconfig.get_path("scripts"),"uv"); print(p)')

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$uv" venv --quiet --python 3.11 "$VENV"
# --compile-bytecode: every process then reads .pyc files instead of compiling Airflow, pandas and
# the rest from source (importing airflow.sdk, pandas, pyarrow and duckdb: 4.9 CPU-s without,
# 2.1 with; where PYTHONDONTWRITEBYTECODE is set, no process ever writes them); about 35 s once
VIRTUAL_ENV="$VENV" "$uv" pip install --quiet --compile-bytecode -r requirements.txt
VIRTUAL_ENV="$VENV" "$uv" pip install --quiet --no-deps -e .
echo "setup: Python packages installed in $(( $(date +%s) - start )) s"
touch "$stamp"
