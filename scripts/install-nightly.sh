#!/usr/bin/env bash
# Installs the nightly systemd service and timer for this checkout. Idempotent: run
# it again after moving the checkout or changing the user.
# Usage (as root): scripts/install-nightly.sh [USER]   (default: the checkout's owner)
# The push token goes in /etc/syncbench/nightly.env (created empty, 0600, if missing):
#   SYNCBENCH_PUSH_TOKEN=...   SYNCBENCH_PUSH_BRANCH=nightly-results
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=${1:-$(stat -c %U "$repo")}
cargo_bin=$(getent passwd "$user" | cut -d: -f6)/.cargo/bin
[ "$(id -u)" = 0 ] || { echo "install-nightly: run as root (systemd units)" >&2; exit 2; }
id "$user" >/dev/null || { echo "install-nightly: no user $user" >&2; exit 2; }
for unit in syncbench-nightly.service syncbench-nightly.timer; do
  sed -e "s|@REPO@|$repo|g" -e "s|@USER@|$user|g" -e "s|@CARGO_BIN@|$cargo_bin|g" \
    "$repo/scripts/systemd/$unit" >"/etc/systemd/system/$unit.new"
  mv "/etc/systemd/system/$unit.new" "/etc/systemd/system/$unit"
done
install -d -m 0700 /etc/syncbench
[ -e /etc/syncbench/nightly.env ] || install -m 0600 /dev/null /etc/syncbench/nightly.env
systemctl daemon-reload
systemctl enable --now syncbench-nightly.timer
systemctl list-timers syncbench-nightly.timer --no-pager
