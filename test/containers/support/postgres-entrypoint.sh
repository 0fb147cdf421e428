#!/bin/sh
# Initialises $PGDATA on first start (user, password from POSTGRES_PASSWORD_FILE, database), then runs postgres as
# the postgres user listening on every address with password (scram) authentication.
set -eu
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw="$(cat "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE is required}")"
  printf '%s' "$pw" >/tmp/pwfile && chown postgres /tmp/pwfile
  su postgres -s /bin/sh -c "initdb -D '$PGDATA' -U '${POSTGRES_USER:-postgres}' --pwfile=/tmp/pwfile -A scram-sha-256 >/dev/null"
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -o '-c listen_addresses=' -w start >/dev/null"
  su postgres -s /bin/sh -c "PGPASSWORD='$pw' createdb -h /run/postgresql -U '${POSTGRES_USER:-postgres}' '${POSTGRES_DB:-${POSTGRES_USER:-postgres}}'"
  su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -m fast -w stop >/dev/null"
fi
exec su postgres -s /bin/sh -c "exec postgres -D '$PGDATA' -c listen_addresses='*' -c unix_socket_directories=/run/postgresql"
