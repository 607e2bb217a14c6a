#!/usr/bin/env bash
# Quick start (the demo): install, create the embedded database with fictitious demo data and
# a meeting whose video room is open, start the app on http://localhost:${PORT:-8501}.
# It listens on 127.0.0.1 only: ADDRESS=0.0.0.0 opens it to the network (known passwords!).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RCP_DEMO_MODE=${RCP_DEMO_MODE:-1}
port=${PORT:-8501}
address=${ADDRESS:-127.0.0.1}
.venv/bin/python -m rcp init
.venv/bin/python -m rcp seed-demo
exec .venv/bin/streamlit run app.py --server.port "$port" --server.address "$address" "$@"
