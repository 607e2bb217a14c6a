#!/usr/bin/env bash
# The command line with the production settings: scripts/rcp.sh init | create-admin … |
# backup DEST | fsck | purge-audit | outbox … (python -m rcp --help). Run it as the service's
# user (sudo -u rcp /srv/rcp/scripts/rcp.sh …) so that files it writes belong to that user.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/env.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$root/.venv/bin/python" -m rcp "$@"
