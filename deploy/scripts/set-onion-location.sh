#!/bin/sh
# Publishes the onion address: writes INTAKE_ONION_LOCATION=http://<address>
# into the server's environment file, from the hostname file Tor made on its
# first start. The app then sends `Onion-Location` on the public site, and
# Tor Browser offers its users the onion address.
#
# Usage (as root): deploy/scripts/set-onion-location.sh [HOSTNAME_FILE] [ENV_FILE]
#   defaults: /var/lib/tor/intake/hostname  /etc/intake/intake.env
# Then: systemctl restart intake
set -eu

hostname_file=${1:-/var/lib/tor/intake/hostname}
env_file=${2:-/etc/intake/intake.env}

fail() {
    echo "set-onion-location: error: $1" >&2
    [ $# -gt 1 ] && echo "set-onion-location: hint: $2" >&2
    exit 1
}

[ -r "$hostname_file" ] || fail "cannot read $hostname_file" \
    "start tor first (systemctl start tor), and run this as root"
[ -f "$env_file" ] || fail "$env_file does not exist" \
    "copy deploy/env/intake.env.example there first"

onion=$(tr -d '[:space:]' <"$hostname_file")
# A v3 onion address: 56 base32 characters. Anything else is refused, so a
# damaged file never ends up in a header every visitor receives.
printf '%s' "$onion" | grep -Eq '^[a-z2-7]{56}\.onion$' ||
    fail "$hostname_file does not hold a v3 onion address"

line="INTAKE_ONION_LOCATION=http://$onion"
new=$(mktemp "$env_file.XXXXXX")
trap 'rm -f "$new"' EXIT
grep -v '^INTAKE_ONION_LOCATION=' "$env_file" >"$new" || true
printf '%s\n' "$line" >>"$new"
# Rewritten in place, so the file keeps its owner and mode (it holds secrets).
cat "$new" >"$env_file"
echo "$line"
