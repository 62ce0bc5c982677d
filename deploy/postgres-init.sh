#!/bin/sh
# Runs once, when the postgres container starts on an empty data volume
# (/docker-entrypoint-initdb.d). Creates the unprivileged `custody` role and its database; the app
# runs its own migrations as that role. For an existing server, run the same SQL by hand (README.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v custody_pw="$CUSTODY_DB_PASSWORD" <<'SQL'
CREATE ROLE custody LOGIN PASSWORD :'custody_pw';
CREATE DATABASE custody OWNER custody ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE custody FROM PUBLIC;
SQL
