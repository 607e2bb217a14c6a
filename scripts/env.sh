# Sourced by serve.sh and rcp.sh: load the production settings file into the environment.
# RCP_ENV_FILE (default /etc/rcp/rcp.env) holds KEY=value lines, the format of systemd's
# EnvironmentFile=; quote values with single quotes when they hold spaces or `$`. A file this
# user cannot read is skipped (systemd has already loaded it as root for the unit).
rcp_env_file=${RCP_ENV_FILE:-/etc/rcp/rcp.env}
if [ -r "$rcp_env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$rcp_env_file"
  set +a
elif [ -n "${RCP_ENV_FILE:-}" ] && [ ! -e "$rcp_env_file" ]; then
  echo "Fichier de réglages introuvable : $rcp_env_file" >&2
  exit 2
fi
