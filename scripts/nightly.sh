#!/usr/bin/env bash
# Scheduled benchmark run on a bare-metal host (docs/scheduled-runs.md: "Scheduled runs on a bare-metal
# server"): lock, machine hygiene where permitted, disk guard, retention, build, the
# matrix, crash bundles and kernel OOM lines, report index, commit and push.
#
# Usage: scripts/nightly.sh [--smoke] [--no-push] [--no-index] [--alloc LIST] [--out DIR]
#   --smoke     a small matrix (smoke workload, 2 allocators, 1 repetition): CI runs this
#   --no-push   commit nothing, push nothing (results stay where --out put them)
#   --no-index  do not regenerate results/README.md (the nightly workflow merges first)
# Results are committed on the branch SYNCBENCH_PUSH_BRANCH (in a temporary worktree),
# never on the checked-out branch.
#   --alloc     allocators of the matrix (default: glibc,jemalloc,mimalloc)
#   --out DIR   where the suite goes (default: results/)
# Environment (never written anywhere by this script):
#   SYNCBENCH_PUSH_TOKEN   token for `git push` over HTTPS (without it: no push)
#   SYNCBENCH_PUSH_REMOTE  https URL to push to (default: the `origin` remote's URL)
#   SYNCBENCH_PUSH_BRANCH  branch to push (default: nightly-results)
#   SYNCBENCH_LOCK         lock file (default: .syncbench-nightly.lock in the checkout,
#                          not world-writable /tmp where another user could hold or
#                          replace it)
#   SYNCBENCH_KEEP_DAYS    delete kept node data dirs older than this (default: 7)
# Exit: 0 ok, 1 a run failed or a step failed, 2 bad usage, 75 another run holds the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0 push=1 index=1 alloc="glibc,jemalloc,mimalloc" out=results
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --no-push) push=0 ;;
    --no-index) index=0 ;;
    --alloc) alloc=${2:?--alloc needs a value}; shift ;;
    --out) out=${2:?--out needs a value}; shift ;;
    *) echo "nightly: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf 'nightly: %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# 1. One run at a time.
lock=${SYNCBENCH_LOCK:-$(git rev-parse --show-toplevel)/.syncbench-nightly.lock}
exec 9>"$lock"
if ! flock -n 9; then
  log "another nightly run holds $lock; exiting"
  exit 75
fi

# 2. Machine hygiene, only where this user may: each step says what it did or why not.
hygiene() {
  local gov
  for gov in /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do
    if [ -w "$gov" ]; then echo performance >"$gov" 2>/dev/null || true; fi
  done
  if compgen -G "/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor" >/dev/null; then
    log "cpu governor: $(sort -u /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor | tr '\n' ' ')"
  else
    log "cpu governor: skipped (no cpufreq on this machine)"
  fi
  if [ -w /sys/devices/system/cpu/intel_pstate/no_turbo ]; then
    echo 1 >/sys/devices/system/cpu/intel_pstate/no_turbo && log "turbo: disabled (intel_pstate)"
  elif [ -w /sys/devices/system/cpu/cpufreq/boost ]; then
    echo 0 >/sys/devices/system/cpu/cpufreq/boost && log "turbo: disabled (cpufreq boost)"
  else
    log "turbo: skipped (no writable intel_pstate/no_turbo or cpufreq/boost)"
  fi
  if [ -w /proc/sys/vm/drop_caches ]; then
    sync && echo 3 >/proc/sys/vm/drop_caches && log "page cache: dropped"
  else
    log "page cache: not dropped (needs root)"
  fi
}
hygiene

# 3. Disk guard and retention of node data kept by earlier runs (--keep-data).
need_gib=$([ $smoke = 1 ] && echo 2 || echo 60)
if [ -d .syncbench-data ]; then
  find .syncbench-data -mindepth 1 -maxdepth 1 -type d -mtime +"${SYNCBENCH_KEEP_DAYS:-7}" -print -exec rm -rf {} + |
    sed 's/^/nightly: removed old node data /'
fi
free_gib=$(df -P -BG . | awk 'NR == 2 { sub("G", "", $4); print $4 }')
if [ "$free_gib" -lt "$need_gib" ]; then
  log "only ${free_gib} GiB free here, the matrix needs ${need_gib} GiB: not running"
  exit 1
fi
log "disk: ${free_gib} GiB free (need ${need_gib})"

# 4. Build.
cargo build --release --locked -q -p syncbench -p syncbench-allocators --bins
sb=./target/release/syncbench

# 5. The matrix.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
started=$(date -u '+%Y-%m-%d %H:%M:%S')
if [ $smoke = 1 ]; then
  [ "$alloc" = "glibc,jemalloc,mimalloc" ] && alloc=glibc,jemalloc # smoke: two allocators unless told
  suite="$out/${stamp}_smoke_nightly_${alloc//,/-}"
  args=(--alloc "$alloc" --workload smoke --blocks 1000 --repeat 1 --no-ceilings)
else
  suite="$out/${stamp}_mainnet_nightly_${alloc//,/-}"
  args=(--alloc "$alloc" --arena-max default,2 --compaction streaming,buffered --compaction-concurrency 1,2
        --repeat 3 --workload mainnet)
fi
mkdir -p "$out"
status=0
log "matrix: $sb matrix ${args[*]} --out $suite"
"$sb" matrix "${args[@]}" --out "$suite" || status=$?
if [ $status -ne 0 ] && [ ! -f "$suite/suite.json" ]; then
  log "matrix did not start (exit $status)"
  exit 1
fi

# 6. Crash bundles (already inside the suite's failed runs) and kernel OOM lines.
bundles=$(find "$suite/runs" -mindepth 2 -maxdepth 2 -type d -name crash 2>/dev/null | sort || true)
log "crash bundles: ${bundles:-none}"
{
  echo "# kernel OOM-killer lines since ${started} UTC"
  if command -v journalctl >/dev/null && journalctl -k -q --since "$started" >/dev/null 2>&1; then
    journalctl -k -q --since "$started" | grep -i "killed process\|out of memory" || echo "none"
  elif dmesg >/dev/null 2>&1; then
    dmesg | grep -i "killed process\|out of memory" || echo "none"
  else
    echo "unavailable (no journalctl or dmesg access)"
  fi
} >"$suite/kernel-oom.txt"

# 7. Commit and push, never onto the checked-out branch: results are committed in a
# detached worktree on top of the results branch (fetched from the remote when a
# token is given, else the local branch), so this checkout's branch never diverges
# from upstream and `git pull --ff-only` keeps working. Credentials come from the
# environment only, through GIT_ASKPASS (never a command line, which `ps` shows).
branch=${SYNCBENCH_PUSH_BRANCH:-nightly-results}
git_auth() {
  if [ -n "${SYNCBENCH_PUSH_TOKEN:-}" ]; then
    GIT_ASKPASS=$askpass GIT_TERMINAL_PROMPT=0 git "$@"
  else
    git "$@"
  fi
}
publish() {
  local remote base
  remote=${SYNCBENCH_PUSH_REMOTE:-$(git remote get-url origin)}
  # Globals: the EXIT trap runs after this function has returned.
  askpass=$(mktemp)
  wt=$(mktemp -d)
  trap 'rm -f "$askpass"; git worktree remove --force "$wt" 2>/dev/null || true; rm -rf "$wt"' EXIT
  printf '#!/bin/sh\ncase "$1" in Username*) echo x-access-token ;; *) printf %%s "$SYNCBENCH_PUSH_TOKEN" ;; esac\n' >"$askpass"
  chmod 700 "$askpass"
  base=HEAD
  if [ -n "${SYNCBENCH_PUSH_TOKEN:-}" ] && git_auth fetch -q "$remote" "$branch" 2>/dev/null; then
    base=FETCH_HEAD
  elif git rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
    base=$branch
  fi
  git worktree add -q --detach "$wt" "$base"
  mkdir -p "$wt/$out"
  cp -r "$suite" "$wt/$out/"
  if [ $index = 1 ]; then "$sb" report --index "$wt/$out"; fi
  git -C "$wt" add "$out"
  git -C "$wt" -c user.name="syncbench nightly" -c user.email="nightly@invalid" commit -q -m "results: nightly ${stamp}"
  git branch -f "$branch" "$(git -C "$wt" rev-parse HEAD)"
  log "committed to the local branch $branch (this checkout's branch is untouched)"
  if [ -n "${SYNCBENCH_PUSH_TOKEN:-}" ]; then
    git_auth -C "$wt" push -q "$remote" "HEAD:refs/heads/$branch"
    log "pushed to $branch"
  else
    log "SYNCBENCH_PUSH_TOKEN is not set: not pushing"
  fi
}
if [ $push = 1 ]; then
  case "$out" in /*) log "--out $out is outside the checkout: nothing to commit" ;; *) publish ;; esac
elif [ $index = 1 ]; then
  "$sb" report --index "$out"
fi
log "suite: $suite (matrix exit $status)"
[ $status -eq 0 ] || exit 1
