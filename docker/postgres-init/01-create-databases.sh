#!/usr/bin/env bash
# Runs once, when the postgres service starts on an empty data volume (docker-entrypoint-initdb.d).
# Creates the platform's role and its two databases on the same server:
#   eis      the warehouse (schemas raw, raw_incoming, staging, marts, ... are created by the platform)
#   airflow  Airflow's metadata database
# One role owns both because eis_core.db derives the Airflow URL from EIS_DATABASE_URL by swapping
# only the database name (same host, same credentials).
# Passwords come from the environment (.env through docker-compose.yml), never from this file.
set -euo pipefail

: "${EIS_DB_USER:?EIS_DB_USER is not set}"
: "${EIS_DB_PASSWORD:?EIS_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v eis_user="$EIS_DB_USER" -v eis_password="$EIS_DB_PASSWORD" <<'SQL'
CREATE ROLE :"eis_user" LOGIN PASSWORD :'eis_password';
CREATE DATABASE eis OWNER :"eis_user";
CREATE DATABASE airflow OWNER :"eis_user";
REVOKE ALL ON DATABASE eis FROM PUBLIC;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
SQL

# PostgreSQL 15+ no longer lets every role create objects in schema public; make the owner explicit.
for db in eis airflow; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" -v eis_user="$EIS_DB_USER" <<'SQL'
ALTER SCHEMA public OWNER TO :"eis_user";
SQL
done
