# Shared by the benchmark scripts: the JDK and jars, the load generator run against a back-end with its CPU
# accounting, and starting and stopping `virtio4j serve`. Needs $root, $work, $duration, $warmup, $backend_cpu,
# $loadgen_cpu set by the script that sources it; $loadgen_extra (an array) adds load generator options.
JAVA_HOME=$("$root/.ci/find-jdk")
java=("$JAVA_HOME/bin/java" --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --enable-native-access=ALL-UNNAMED)
if [ ! -f "$root/bench/target/benchmarks.jar" ] || [ ! -f "$root/tuning/target/virtio4j-cli.jar" ]; then
  (cd "$root" && JAVA_HOME=$JAVA_HOME mvn -B -q -DskipTests install) >&2
fi

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

wait_socket() {
  for _ in $(seq 1 200); do [ -S "$1" ] && return 0; sleep 0.05; done
  echo "$(basename "$0"): no socket at $1" >&2; return 1
}

# run_job SOCKET BACKEND_PID IODEPTH WAIT(0|1) RW VERIFY(0|1) -> "iops p50 p99 cpu_per_million"
run_job() {
  local socket=$1 pid=$2 depth=$3 wait=$4 rw=$5 verify=$6 args=()
  [ "$wait" = 1 ] && args+=(--wait)
  [ "$verify" = 1 ] && args+=(--verify)
  args+=("${loadgen_extra[@]}")
  taskset -c $loadgen_cpu "${java[@]}" -cp "$root/bench/target/benchmarks.jar" org.virtio4j.bench.loadgen.VhostUserBlkLoadGenerator \
    --socket "$socket" --iodepth "$depth" --rw "$rw" --duration "$duration" --warmup "$warmup" "${args[@]}" > "$work/loadgen.out" 2>&1 &
  local gen=$!
  sleep "$warmup"; sleep 0.7
  local before; before=$(cpu_ticks "$pid")
  wait $gen || { echo "load generator failed:" >&2; tail -5 "$work/loadgen.out" >&2; echo "- - - -"; return 0; }
  local after; after=$(cpu_ticks "$pid")
  local result; result=$(grep '^result:' "$work/loadgen.out")
  local iops p50 p99 errors
  iops=$(sed 's/.*iops=\([0-9]*\).*/\1/' <<<"$result")
  p50=$(sed 's/.*p50_us=\([0-9.]*\).*/\1/' <<<"$result")
  p99=$(sed 's/.*p99_us=\([0-9.]*\).*/\1/' <<<"$result")
  errors=$(sed 's/.*verify_errors=\([0-9]*\).*/\1/' <<<"$result")
  local cpu; cpu=$(awk -v t=$((after - before)) -v hz="$ticks" -v iops="$iops" -v d="$duration" \
    'BEGIN { req = iops * d; if (req > 0) printf "%.2f", (t / hz) / (req / 1e6); else print "-" }')
  [ "$errors" != 0 ] && p99="$p99(VERIFY:$errors)"
  echo "$iops $p50 $p99 $cpu"
}

start_virtio4j() { # SOCKET BLK_SPEC -> pid
  rm -f "$1"
  taskset -c $backend_cpu "${java[@]}" -jar "$root/tuning/target/virtio4j-cli.jar" serve --blk "socket=$1,$2" > "$work/serve.log" 2>&1 &
  echo $!
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

