#!/usr/bin/env bash
# Install everything (Python packages for the server and for the tests, Debian's chromium,
# poppler, nginx and tesseract with French) and run the whole suite.
# With RCP_TEST_DATABASE_URL set, the service tests run a second time on that database, and so
# does the two-replica test (nginx in front of two app processes on a database of that server).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
[ -x /usr/sbin/nginx ] || need+=(nginx)
# The production test checks the systemd unit and runs its command as the unit's user.
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v setpriv >/dev/null || need+=(util-linux)
# OCR of a shared screen as the other participant receives it (tests/e2e/test_room_browser.py).
compgen -G "/usr/share/tesseract-ocr/*/tessdata/fra.traineddata" >/dev/null \
  || need+=(tesseract-ocr tesseract-ocr-fra)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
bash scripts/setup.sh requirements.txt requirements-dev.txt
# axe-core for the accessibility browser test, at the committed lockfile's version and hash.
a11y=tests/e2e/a11y
if [ ! -f "$a11y/node_modules/axe-core/axe.min.js" ] \
  || [ "$a11y/package-lock.json" -nt "$a11y/node_modules/.package-lock.json" ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
  fi
  (cd "$a11y" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
.venv/bin/ruff check .
# Two processes (pytest-xdist), a test file each at a time: a file's browser server and
# database are module fixtures, shared by its tests. RCP_TEST_JOBS=1 runs one process.
jobs=(-n "${RCP_TEST_JOBS:-2}" --dist loadfile --durations=15)
echo "== full suite (SQLite, AppTest, Chromium)"
env -u RCP_TEST_DATABASE_URL .venv/bin/python -m pytest -q -p no:cacheprovider "${jobs[@]}" tests "$@"
if [ -n "${RCP_TEST_DATABASE_URL:-}" ]; then
  # Only the tests that meet the database run again (--database-only, tests/conftest.py):
  # the rest ran above, the same code. Each process has its own database beside the given
  # one (<name>_gw0, <name>_gw1: tests/conftest.py).
  echo "== service tests on ${RCP_TEST_DATABASE_URL%%@*}@…"
  .venv/bin/python -m pytest -q -p no:cacheprovider "${jobs[@]}" --database-only \
    tests/unit tests/e2e/test_replicas.py "$@"
fi
