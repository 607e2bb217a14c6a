#!/usr/bin/env bash
# Production start (the systemd unit's and the container's command): the settings file, no
# demo data, no demo mode. Refuses demo settings and a database that is not ready, then runs
# `streamlit run app.py` in the foreground on ADDRESS:PORT (default 127.0.0.1:8501, behind
# nginx). Install first (bash scripts/setup.sh), then scripts/rcp.sh init; README "Production".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/env.sh
if [ ! -x .venv/bin/streamlit ]; then
  echo "Paquets absents : lancez d'abord bash scripts/setup.sh" >&2
  exit 2
fi
.venv/bin/python -m rcp check-production
args=(--server.address "${ADDRESS:-127.0.0.1}" --server.port "${PORT:-8501}")
args+=(--server.headless true)
if [ -n "${RCP_BASE_URL:-}" ]; then
  # The name users open: Streamlit checks websocket origins against it, and without it looks
  # up this machine's public address on the Internet at start and for unknown origins.
  host=${RCP_BASE_URL#*://}
  host=${host%%/*}
  args+=(--browser.serverAddress "${host%:*}")
fi
exec .venv/bin/streamlit run app.py "${args[@]}"
