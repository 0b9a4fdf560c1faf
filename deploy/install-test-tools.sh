#!/bin/sh
# Installs the tools the deployment tests validate our configs with:
# caddy (`caddy validate`), tor (`tor --verify-config`) and systemd
# (`systemd-analyze verify`), and strace, with which tests/resilience kills
# the server at an exact system call; from Debian's packages. Idempotent and
# quiet: does nothing when all four are present. Needs root (or sudo) to install.
set -eu

missing=""
command -v caddy >/dev/null 2>&1 || missing="$missing caddy"
command -v tor >/dev/null 2>&1 || missing="$missing tor"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
command -v strace >/dev/null 2>&1 || missing="$missing strace"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "deploy/install-test-tools.sh: need root to install:$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Only the packages' files: no service is started inside a build or CI box
# (policy-rc.d 101 tells Debian's maintainer scripts not to start daemons).
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $as_root tee "$policy" >/dev/null
    $as_root chmod 0755 "$policy"
    created_policy=1
fi
log=$(mktemp)
cleanup() {
    if [ -n "$created_policy" ]; then $as_root rm -f "$policy"; fi
    rm -f "$log"
}
trap cleanup EXIT

# Quiet when it works; the whole apt output when it does not.
if ! { $as_root apt-get update -qq &&
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    $as_root apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "deploy/install-test-tools.sh: could not install:$missing" >&2
    exit 1
fi
