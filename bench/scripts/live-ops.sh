#!/usr/bin/env bash
# What the live operations cost on the hot path: the load generator at depth 32 on a null disk against
# `virtio4j serve`, plain, with an inflight region (reconnect tracking, as QEMU always asks for one), with the dirty
# log on (a migration in progress, the log cleared every 100 ms like QEMU's log sync), and both. Variants are
# interleaved and repeated, a fresh back-end per job, pinned like side-by-side.sh. Prints IOPS, p50, p99 and
# cpu/M per variant and the IOPS ratio to plain.
#
#   bench/scripts/live-ops.sh [--duration S] [--warmup S] [--repeat N]
#
# Core budget: 2 (back-end CPU 1, load generator CPU 0).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
duration=5
warmup=3
repeat=2
backend_cpu=1
loadgen_cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "live-ops.sh: unknown option $1 (known: --duration S --warmup S --repeat N)" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/virtio4j-live.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
loadgen_extra=()
source "$root/bench/scripts/common.sh"

variants=("plain|" "inflight|--inflight" "dirty-log|--dirty-log" "inflight+dirty-log|--inflight --dirty-log")
declare -A sum_iops
printf "%-10s %-20s %6s | %9s %8s %9s %7s\n" guest variant run IOPS p50us p99us cpu/M
printf -- "-%.0s" $(seq 1 80); echo
for wait in 1 0; do
  guest=$([ $wait = 1 ] && echo wait || echo polled)
  for run in $(seq 1 "$repeat"); do
    for v in "${variants[@]}"; do
      IFS='|' read -r name opts <<<"$v"
      read -r -a loadgen_extra <<<"$opts"
      pid=$(start_virtio4j "$work/v4j.sock" "backend=null,size=1073741824"); wait_socket "$work/v4j.sock"
      r=$(run_job "$work/v4j.sock" "$pid" 32 "$wait" randread 0); stop "$pid"
      read -r iops p50 p99 cpu <<<"$r"
      printf "%-10s %-20s %6s | %9s %8s %9s %7s\n" "$guest" "$name" "$run" "$iops" "$p50" "$p99" "$cpu"
      sum_iops[$guest/$name]=$(( ${sum_iops[$guest/$name]:-0} + ${iops:-0} ))
      grep -h 'dirty log:' "$work/loadgen.out" | sed 's/^/           /' || true
    done
  done
done
echo
for guest in wait polled; do
  for v in "${variants[@]}"; do
    name=${v%%|*}
    awk -v g="$guest" -v n="$name" -v a="${sum_iops[$guest/$name]}" -v b="${sum_iops[$guest/plain]}" -v r="$repeat" \
      'BEGIN { printf "%-10s %-20s mean IOPS %9d  x plain %.3f\n", g, n, a / r, a / b }'
  done
done
echo "null disk, 4 KiB random reads, depth 32; back-end on CPU $backend_cpu, load generator on CPU $loadgen_cpu; ${duration}s after ${warmup}s warm-up, each variant $repeat times, interleaved."
