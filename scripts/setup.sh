#!/usr/bin/env bash
# Create .venv and install the pinned Python packages (idempotent). Used by start.sh, serve.sh
# and test.sh. Arguments: the requirement files (default: requirements.txt, what the server
# needs); test.sh passes requirements.txt and requirements-dev.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(requirements.txt)
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian ships venv separately.
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$PY" -m venv .venv
    else
      echo "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
# The stamp holds one "sha256  file" line per requirement file installed: a file is installed
# again only when it changed (start.sh after test.sh installs nothing).
stamp=.venv/.requirements.sha256
todo=()
for f in "${files[@]}"; do
  grep -qxF "$(sha256sum "$f")" "$stamp" 2>/dev/null || todo+=("$f")
done
if [ ${#todo[@]} -gt 0 ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  args=()
  for f in "${todo[@]}"; do args+=(-r "$f"); done
  .venv/bin/python -m pip install -q "${args[@]}"
  for f in "${todo[@]}"; do
    { grep -vF "  $f" "$stamp" 2>/dev/null || true; sha256sum "$f"; } > "$stamp.new"
    mv "$stamp.new" "$stamp"
  done
fi
# The catalogue (rcp/locale): the .po files are committed, their compiled .mo are built here
# (git-ignored: a binary cannot be merged and could lag behind its .po).
.venv/bin/python scripts/i18n.py compile >/dev/null
# The browser DICOM viewer (rcp/ui/viewer_client): Cornerstone3D from the npm registry, at the
# versions and hashes of the committed package-lock.json, bundled by esbuild into dist/ (about
# 8 MB, git-ignored). Built again only when its sources or the lockfile change.
viewer=rcp/ui/viewer_client
viewer_stamp=$(find "$viewer/package-lock.json" "$viewer/build.mjs" "$viewer/src" -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$viewer/dist/.stamp" 2>/dev/null)" != "$viewer_stamp" ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "npm is missing: install Node.js and npm (sudo apt-get install nodejs npm)" >&2
      exit 1
    fi
  fi
  (cd "$viewer" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node build.mjs)
  echo "$viewer_stamp" > "$viewer/dist/.stamp"
fi
