#!/bin/sh
# Runs one `intake` command as the service runs it: as the `intake` user,
# with /etc/intake/intake.env read by systemd itself (so quoting is exactly
# what intake.service sees). Install as /usr/local/sbin/intake-ctl.
#
#   intake-ctl status
#   intake-ctl manifests import /var/lib/intake/manifest-1.json
#   intake-ctl backup --out /var/backups/intake/before-upgrade.tar
#   intake-ctl restore /var/backups/intake/intake-20261122T033000Z.tar
set -eu
[ $# -gt 0 ] || { echo "usage: intake-ctl COMMAND [ARGS...]  (see: intake-ctl --help)" >&2; exit 2; }
exec systemd-run --quiet --wait --pipe --collect \
    --property=User=intake --property=Group=intake \
    --property=EnvironmentFile=/etc/intake/intake.env \
    --property=WorkingDirectory=/var/lib/intake \
    --property=UMask=0077 \
    /opt/intake/venv/bin/intake "$@"
