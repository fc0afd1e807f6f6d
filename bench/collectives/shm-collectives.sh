# Shared-memory collective rows of bench/collectives/run (sourced by it; `ONLY=shm bench/collectives/run` runs
# these alone, in well under 5 minutes): all-gather, gather, reduce-scatter and broadcast at 1, 16 and 64 MB, and
# the 4-byte all-reduce latency, between 2 ranks on this host — Accelerate's shm backend against Open MPI's
# shared memory (vader, single-copy through CMA), measured in the same run, interleaved ROUNDS times (default 3).
# Sizes: all-gather and gather, bytes each rank contributes; reduce-scatter, bytes of each rank's input;
# broadcast, the buffer. Ours gathers into a buffer allocated once (AllGatherInto/GatherInto), as the MPI peer
# reuses its receive buffer; allgather_alloc and gather_alloc rows (no target) time the allocating forms.
# Ratios compare medians: > 1 means ours is faster (bandwidth), latency is ours / MPI.
# Expects $root, $work and $worker (the Release CollectivesWorker) from the caller.

shm_collectives() {
  local rounds="${ROUNDS:-3}" ops="allgather,gather,reducescatter,broadcast" sizes="1048576 16777216 67108864"
  # Extra rows of ours without a target: the gathers that return new tensors on every call (compared with the same MPI rows).
  local alloc_ops="allgather_alloc,gather_alloc"
  mpicc -O2 -o "$work/mpi_collectives" "$root/bench/collectives/mpi_collectives.c"
  : >"$work/shm-rows"
  for round in $(seq 1 "$rounds"); do
    local port=$((20000 + RANDOM % 20000)) secret
    secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    for rank in 0 1; do
      RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        ACCELERATE_LAUNCH_SECRET=$secret ACCELERATE_DISTRIBUTED_BACKEND=shm OMP_NUM_THREADS=1 \
        dotnet "$worker" bench-ops "$ops,$alloc_ops" $sizes >"$work/shm-ours-$rank.log" 2>&1 &
    done
    wait
    # The latency row right after the bandwidth rows of the same round, ours then MPI.
    local port2=$((20000 + RANDOM % 20000))
    for rank in 0 1; do
      RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port2 \
        ACCELERATE_LAUNCH_SECRET=$secret ACCELERATE_DISTRIBUTED_BACKEND=shm OMP_NUM_THREADS=1 \
        dotnet "$worker" bench-ops allreduce 4 >"$work/shm-lat-$rank.log" 2>&1 &
    done
    wait
    mpirun --allow-run-as-root -np 2 "$work/mpi_collectives" "$ops" $sizes 2>/dev/null >"$work/shm-mpi.log"
    mpirun --allow-run-as-root -np 2 "$work/mpi_collectives" allreduce 4 2>/dev/null >>"$work/shm-mpi.log"
    grep -h '^BENCHROW' "$work/shm-ours-0.log" "$work/shm-lat-0.log" | awk -v r="$round" '{ print r, "ours", $2, $3, $4, $5 }' >>"$work/shm-rows"
    grep '^BENCHROW' "$work/shm-mpi.log" | awk -v r="$round" '{ print r, "mpi", $2, $3, $4, $5 }' >>"$work/shm-rows"
  done

  echo
  echo "Shared-memory collectives (2 ranks): Accelerate shm vs Open MPI (vader), $rounds interleaved rounds, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  # Rows: round who op bytes mean median. Per (op, bytes): each round's ratio, and the ratio of the medians over rounds.
  awk '
    { key = $3 " " $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key } med[$1, $2, key] = $6; mean[$1, $2, key] = $5; if ($1 > rounds) rounds = $1 }
    function median(who, key,   i, v, m, t, j) {
      m = 0; for (i = 1; i <= rounds; i++) if ((i, who, key) in med) v[++m] = med[i, who, key]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
    }
    BEGIN { printf "%-16s %10s %11s %11s %9s %9s  %s\n", "collective", "bytes", "ours med", "mpi med", "ours GB/s", "mpi GB/s", "ratio (per round ... | of medians)" }
    END {
      for (k = 1; k <= n; k++) {
        key = order[k]; split(key, f, " "); base = f[1]; sub(/_alloc$/, "", base); mkey = base " " f[2]
        o = median("ours", key); m = median("mpi", mkey)
        latency = (f[2] <= 4096)
        rounds_text = ""
        for (i = 1; i <= rounds; i++) {
          if (!((i, "ours", key) in med) || !((i, "mpi", mkey) in med)) continue
          r = latency ? med[i, "ours", key] / med[i, "mpi", mkey] : med[i, "mpi", mkey] / med[i, "ours", key]
          rounds_text = rounds_text sprintf(" %.2f", r)
          if (latency && (worst == "" || r > worst)) worst = r
        }
        ratio = latency ? o / m : m / o
        printf "%-16s %10d %11.2f %11.2f %9.3f %9.3f %s | %.2f\n", f[1], f[2], o, m, f[2] / o / 1000, f[2] / m / 1000, rounds_text, ratio
        if (latency) { latency_ratio = ratio }
        else if (base != f[1]) continue
        else if (!(f[1] in minimum) || ratio < minimum[f[1]]) minimum[f[1]] = ratio
      }
      print "(times in microseconds, medians over rounds of each round'"'"'s median; GB/s = bytes per rank / time;"
      print " bandwidth ratio = mpi time / ours time, latency ratio = ours / mpi; allgather and gather write into buffers allocated"
      print " once, as MPI does; the _alloc rows time AllGather(tensor)/Gather(tensor), which return new tensors, against the same MPI rows)"
      print ""
      split("allgather gather reducescatter broadcast", names, " ")
      for (i = 1; i <= 4; i++) if ((op = names[i]) in minimum) printf "BENCH collectives shm_%s_ratio_min_1MB_up=%.2f target=1.0 %s\n", op, minimum[op], (minimum[op] >= 1.0 ? "pass" : "fail")
      printf "BENCH collectives shm_allreduce_latency_4B_ratio=%.2f target=2.0 %s\n", latency_ratio, (latency_ratio <= 2.0 ? "pass" : "fail")
      printf "BENCH collectives shm_allreduce_latency_4B_ratio_worst_round=%.2f target=2.0 %s\n", worst, (worst <= 2.0 ? "pass" : "fail")
    }' "$work/shm-rows"
}
