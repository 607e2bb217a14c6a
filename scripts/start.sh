#!/usr/bin/env bash
# Quick start: install, create the embedded database with demo data, start the app (port 8501).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RCP_DEMO_MODE=${RCP_DEMO_MODE:-1}
.venv/bin/python -m rcp init
.venv/bin/python -m rcp seed-demo
exec .venv/bin/streamlit run app.py --server.port "${PORT:-8501}" "$@"
