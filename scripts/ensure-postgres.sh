#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster and create the role the tests log in with.
# Safe to run again: a running cluster and an existing role are fine.
# Exit 0 when PostgreSQL is ready, 1 when it cannot be started here (tests then say so).
set -u
ROLE="${ML_CONNECTOR_PG_USER:-ml_connector}"
PASSWORD="${ML_CONNECTOR_PG_PASSWORD:-ml_connector}"
DB="${ML_CONNECTOR_PG_DB:-ml_connector}"

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-postgres: pg_ctlcluster not found; PostgreSQL tests cannot run here" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-postgres: not root; start PostgreSQL yourself (see README)" >&2
  exit 1
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster 15 main start 2>&1 | grep -v "already running" || true
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "ensure-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
  exit 1
fi
psql_as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -tAc \"$1\""; }
if [ "$(psql_as_postgres "SELECT 1 FROM pg_roles WHERE rolname='${ROLE}'")" != "1" ]; then
  psql_as_postgres "CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD}'" >/dev/null
fi
if [ "$(psql_as_postgres "SELECT 1 FROM pg_database WHERE datname='${DB}'")" != "1" ]; then
  psql_as_postgres "CREATE DATABASE ${DB} OWNER ${ROLE}" >/dev/null
fi
echo "ensure-postgres: ready (role ${ROLE}, database ${DB} on 127.0.0.1:5432)"
