#!/bin/sh
# For the official postgres image (docker-compose.yml): on first start, make
# the new cluster read deploy/postgresql/intake.conf, mounted read-only.
set -eu
echo "include '/etc/postgresql/intake.conf'" >>"$PGDATA/postgresql.conf"
