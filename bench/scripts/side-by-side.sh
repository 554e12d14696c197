#!/usr/bin/env bash
# Side by side, in one run: the same vhost-user-blk jobs against qemu-storage-daemon (its best setting for each
# case) and against `virtio4j serve` (its defaults), pinned like reference/benchmarks.md: the back-end on one CPU,
# the load generator (playing QEMU and its guest) on another; 4 KiB requests; a fresh back-end process per job;
# a warm-up before measuring. Prints one table with IOPS, p50, p99, the back-end's CPU seconds per million
# requests, and the ratios. fio's own io_uring figures on the same O_DIRECT file are the ceiling for those rows.
#
#   bench/scripts/side-by-side.sh [--duration S] [--warmup S] [--jobs REGEX] [--disk-dir DIR]
#
# Needs: qemu-storage-daemon (qemu-utils), fio, taskset; installs them with apt-get when root and missing.
# Core budget: 2 (back-end CPU 1, load generator CPU 0). Say what else ran when you quote the figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
duration=5
warmup=5
jobs_filter=.
disk_dir=/var/tmp
backend_cpu=1
loadgen_cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --jobs) jobs_filter=$2; shift 2 ;;
    --disk-dir) disk_dir=$2; shift 2 ;;
    *) echo "side-by-side.sh: unknown option $1 (known: --duration S --warmup S --jobs REGEX --disk-dir DIR)" >&2; exit 2 ;;
  esac
done

missing=()
command -v qemu-storage-daemon >/dev/null 2>&1 || missing+=(qemu-utils)
command -v fio >/dev/null 2>&1 || missing+=(fio)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  else
    echo "side-by-side.sh: needs ${missing[*]} (apt-get install -y ${missing[*]})" >&2; exit 1
  fi
fi
loadgen_extra=()
work=$(mktemp -d /tmp/virtio4j-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
tmpfs_image=/dev/shm/virtio4j-bench.img
disk_image=$disk_dir/virtio4j-bench.img
size_mib=1024
if [ ! -f "$tmpfs_image" ] || [ "$(stat -c %s "$tmpfs_image")" != $((size_mib << 20)) ]; then
  head -c $((size_mib << 20)) /dev/urandom > "$tmpfs_image"
fi
if [ ! -f "$disk_image" ] || [ "$(stat -c %s "$disk_image")" != $((size_mib << 20)) ]; then
  head -c $((size_mib << 20)) /dev/urandom > "$disk_image"; sync
fi

source "$root/bench/scripts/common.sh"

start_qsd() { # SOCKET BLOCKDEV -> pid
  rm -f "$1"
  taskset -c $backend_cpu qemu-storage-daemon --blockdev "$2" \
    --export "type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=$1,writable=on,num-queues=1" > "$work/qsd.log" 2>&1 &
  echo $!
}

fio_ceiling() { # DEPTH -> "iops p50 p99"
  taskset -c $backend_cpu fio --name=ceiling --filename="$disk_image" --ioengine=io_uring --direct=1 --rw=randread --bs=4k \
    --iodepth="$1" --runtime="$duration" --ramp_time="$warmup" --time_based --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["jobs"][0]["read"]; p=r["clat_ns"]["percentile"]; print("%d %.2f %.2f" % (r["iops"], p["50.000000"]/1e3, p["99.000000"]/1e3))'
}

# name | qsd blockdev variants (space-separated, best one wins) | virtio4j --blk spec | depth | wait | rw | verify
jobs=(
  "null-randread-qd1-polled|driver=null-co,node-name=d0,size=1073741824,read-zeroes=off|backend=null,size=1073741824|1|0|randread|0"
  "null-randread-qd32-polled|driver=null-co,node-name=d0,size=1073741824,read-zeroes=off|backend=null,size=1073741824|32|0|randread|0"
  "null-randread-qd1-wait|driver=null-co,node-name=d0,size=1073741824,read-zeroes=off|backend=null,size=1073741824|1|1|randread|0"
  "null-randread-qd32-wait|driver=null-co,node-name=d0,size=1073741824,read-zeroes=off|backend=null,size=1073741824|32|1|randread|0"
  "tmpfs-randread-qd1-wait|driver=file,node-name=d0,filename=$tmpfs_image,cache.direct=off,aio=threads driver=file,node-name=d0,filename=$tmpfs_image,cache.direct=off,aio=io_uring|path=$tmpfs_image|1|1|randread|0"
  "tmpfs-randread-qd32-wait|driver=file,node-name=d0,filename=$tmpfs_image,cache.direct=off,aio=threads driver=file,node-name=d0,filename=$tmpfs_image,cache.direct=off,aio=io_uring|path=$tmpfs_image|32|1|randread|0"
  "tmpfs-randwrite-qd32-verify|driver=file,node-name=d0,filename=$tmpfs_image,cache.direct=off,aio=threads driver=file,node-name=d0,filename=$tmpfs_image,cache.direct=off,aio=io_uring|path=$tmpfs_image|32|1|randwrite|1"
  "disk-direct-randread-qd1-wait|driver=file,node-name=d0,filename=$disk_image,cache.direct=on,aio=io_uring driver=file,node-name=d0,filename=$disk_image,cache.direct=on,aio=threads|path=$disk_image,direct=on|1|1|randread|0"
  "disk-direct-randread-qd32-wait|driver=file,node-name=d0,filename=$disk_image,cache.direct=on,aio=io_uring driver=file,node-name=d0,filename=$disk_image,cache.direct=on,aio=threads|path=$disk_image,direct=on|32|1|randread|0"
)

printf "%-32s | %-22s %9s %8s %9s %7s | %9s %8s %9s %7s | %6s %6s\n" job "qsd (best setting)" IOPS p50us p99us cpu/M virtio4j p50us p99us cpu/M "x IOPS" "x p50"
printf -- "-%.0s" $(seq 1 150); echo
for job in "${jobs[@]}"; do
  IFS='|' read -r name qsd_variants spec depth wait rw verify <<<"$job"
  [[ "$name" =~ $jobs_filter ]] || continue
  best="- - - -"; best_setting=-
  for variant in $qsd_variants; do
    pid=$(start_qsd "$work/qsd.sock" "$variant"); wait_socket "$work/qsd.sock"
    r=$(run_job "$work/qsd.sock" "$pid" "$depth" "$wait" "$rw" "$verify"); stop "$pid"
    if [ "$best" = "- - - -" ] || [ "${r%% *}" -gt "${best%% *}" ] 2>/dev/null; then
      best=$r; best_setting=$(grep -o 'aio=[a-z_]*' <<<"$variant" || echo null-co)
    fi
  done
  pid=$(start_virtio4j "$work/v4j.sock" "$spec"); wait_socket "$work/v4j.sock"
  ours=$(run_job "$work/v4j.sock" "$pid" "$depth" "$wait" "$rw" "$verify"); stop "$pid"
  read -r qi qp50 qp99 qcpu <<<"$best"
  read -r vi vp50 vp99 vcpu <<<"$ours"
  ratio=$(awk -v a="$vi" -v b="$qi" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  lat=$(awk -v a="$vp50" -v b="$qp50" 'BEGIN { if (a > 0) printf "%.2f", a / b; else print "-" }')
  printf "%-32s | %-22s %9s %8s %9s %7s | %9s %8s %9s %7s | %6s %6s\n" "$name" "$best_setting" "$qi" "$qp50" "$qp99" "$qcpu" "$vi" "$vp50" "$vp99" "$vcpu" "$ratio" "$lat"
done
if [[ "disk-direct-randread" =~ $jobs_filter ]] || [ "$jobs_filter" = . ]; then
  for depth in 1 32; do
    read -r fi fp50 fp99 <<<"$(fio_ceiling $depth)"
    printf "%-32s | %-22s %9s %8s %9s\n" "fio-direct-qd$depth (ceiling)" "fio io_uring, no virtio" "$fi" "$fp50" "$fp99"
  done
fi
echo "x IOPS = virtio4j / qemu-storage-daemon; x p50 = virtio4j p50 / qemu-storage-daemon p50 (below 1 is better)."
echo "back-ends on CPU $backend_cpu, load generator on CPU $loadgen_cpu; ${duration}s after ${warmup}s warm-up; 4 KiB; cpu/M = back-end CPU seconds per million requests."
