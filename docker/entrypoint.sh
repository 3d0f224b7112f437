#!/bin/sh
# Entrypoint of the Incident Commons image (web, worker and beat).
#   MIGRATE=1   apply database migrations before starting (the web service only;
#               several containers doing it at once wait for each other).
set -eu

if [ -z "${SECRET_KEY:-}" ]; then
    echo "entrypoint: SECRET_KEY is not set. Put SECRET_KEY=... in .env (see docs/deployment.md)." >&2
    exit 64
fi

case "${MIGRATE:-0}" in
    1|true|yes|on)
        python "$(dirname "$0")/migrate.py"
        ;;
esac

exec "$@"
