# TCP rows of bench/collectives/run (sourced by it): all-reduce of float32 buffers over TCP, Accelerate
# against Open MPI forced to TCP (pml ob1, btl tcp,self) and PyTorch's gloo, measured in the same run:
#   loopback, 2 ranks on this host;
#   veth, 2 ranks in two network namespaces joined by a veth pair (one rank each);
#   veth4, 4 ranks = 2 namespaces x 2: Accelerate hierarchical (shm+tcp) against flat TCP.
# Expects from run: $root, $work, $worker, $work/mpi_allreduce. Knobs: TCP_SIZES, ROUNDS (each job runs
# ROUNDS times, interleaved; a figure is the median over rounds of each round's median).

tcp_sizes="${TCP_SIZES:-4 64 1024 16384 65536 262144 1048576 4194304 16777216 67108864 268435456}"
tcp_rounds="${ROUNDS:-1}"
tcp_gloo="$root/bench/collectives/gloo_allreduce.py"
tcp_net=10.232.$((RANDOM % 200 + 20))
tcp_a="accbench-a-$$"
tcp_b="accbench-b-$$"

tcp_port() { echo $((20000 + RANDOM % 20000)); }

tcp_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# "ns" is "-" for this host's namespace.
tcp_in() { local ns=$1; shift; if [ "$ns" = - ]; then "$@"; else ip netns exec "$ns" "$@"; fi; }

# Accelerate: backend master namespaces... (one per rank) -> rank 0's "bytes mean median" lines
tcp_ours() {
  local backend=$1 master=$2; shift 2
  local world=$# port secret rank=0 ns local_rank log="$work/tcp-ours.log"
  port=$(tcp_port); secret=$(tcp_secret)
  declare -A seen=()
  for ns in "$@"; do
    local_rank=${seen[$ns]:-0}; seen[$ns]=$((local_rank + 1))
    tcp_in "$ns" env RANK=$rank LOCAL_RANK=$local_rank WORLD_SIZE=$world LOCAL_WORLD_SIZE=$(printf '%s\n' "$@" | grep -cx -- "$ns") \
      MASTER_ADDR=$master MASTER_PORT=$port ACCELERATE_LAUNCH_SECRET=$secret ACCELERATE_DISTRIBUTED_BACKEND=$backend OMP_NUM_THREADS=1 \
      timeout 900 dotnet "$worker" bench $tcp_sizes >"$work/tcp-ours-$rank.log" 2>&1 &
    rank=$((rank + 1))
  done
  wait
  grep '^BENCHROW' "$work/tcp-ours-0.log" | cut -d' ' -f2- || { cat "$work"/tcp-ours-*.log >&2; return 1; }
}

# Open MPI over TCP only: loopback, or one rank in each namespace (mpirun runs in A and reaches B through an
# rsh agent that enters B's namespace, so that every daemon talks over the veth pair).
tcp_mpi() {
  local where=$1
  if [ "$where" = loopback ]; then
    timeout 900 mpirun --allow-run-as-root -np 2 --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo \
      "$work/mpi_allreduce" $tcp_sizes 2>"$work/tcp-mpi.err" | grep '^BENCHROW' | cut -d' ' -f2-
  else
    printf '#!/bin/sh\nhost="$1"; shift\nexec ip netns exec "$host" sh -c "$*"\n' >"$work/netns-rsh"
    chmod +x "$work/netns-rsh"
    printf '%s slots=1\n%s slots=1\n' "$tcp_a" "$tcp_b" >"$work/netns-hosts"
    ip netns exec "$tcp_a" timeout 900 mpirun --allow-run-as-root -np 2 --bind-to none --hostfile "$work/netns-hosts" --mca plm_rsh_agent "$work/netns-rsh" \
      --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include $tcp_net.0/24 --mca oob_tcp_if_include $tcp_net.0/24 \
      "$work/mpi_allreduce" $tcp_sizes 2>"$work/tcp-mpi.err" | grep '^BENCHROW' | cut -d' ' -f2-
  fi
}

# PyTorch gloo, its two ranks started with the torchrun environment: loopback or one rank in each namespace.
tcp_gloo() {
  local where=$1 port rank ns master=127.0.0.1 ifname
  port=$(tcp_port)
  [ "$where" = veth ] && master=$tcp_net.1
  for rank in 0 1; do
    if [ "$where" = loopback ]; then ns=-; ifname=lo; elif [ $rank = 0 ]; then ns=$tcp_a; ifname=vacca; else ns=$tcp_b; ifname=vaccb; fi
    tcp_in "$ns" env RANK=$rank LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 MASTER_ADDR=$master MASTER_PORT=$port GLOO_SOCKET_IFNAME=$ifname OMP_NUM_THREADS=1 \
      timeout 900 /usr/bin/python3 "$tcp_gloo" $tcp_sizes >"$work/tcp-gloo-$rank.log" 2>&1 &
  done
  wait
  grep '^BENCHROW' "$work/tcp-gloo-0.log" | cut -d' ' -f2- || { cat "$work"/tcp-gloo-*.log >&2; return 1; }
}

tcp_namespaces_up() {
  ip netns add "$tcp_a" && ip netns add "$tcp_b" || return 1
  ip link add vacca netns "$tcp_a" type veth peer name vaccb netns "$tcp_b"
  ip -n "$tcp_a" addr add $tcp_net.1/24 dev vacca
  ip -n "$tcp_b" addr add $tcp_net.2/24 dev vaccb
  for ns in "$tcp_a" "$tcp_b"; do ip -n "$ns" link set lo up; done
  ip -n "$tcp_a" link set vacca up
  ip -n "$tcp_b" link set vaccb up
}

tcp_namespaces_down() {
  ip netns del "$tcp_a" 2>/dev/null || true
  ip netns del "$tcp_b" 2>/dev/null || true
}

# name command... : runs the command ROUNDS times (callers interleave), each round's rows in $work/rows-name.N;
# a run that fails stops the benchmark with what it said (the Open MPI runs' errors are kept in tcp-mpi.err)
tcp_round() {
  local name=$1 round=$2; shift 2
  : >"$work/tcp-mpi.err"
  "$@" >"$work/rows-$name.$round" && return 0
  echo "bench/collectives: $name failed in round $round" >&2
  tail -20 "$work/tcp-mpi.err" >&2
  return 1
}

# name -> "bytes median" lines: per size, the median over rounds of each round's median
tcp_median() {
  cat "$work"/rows-"$1".* | awk '{ v[$1] = v[$1] " " $3 } END { for (b in v) { n = split(v[b], x, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
    m = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2; print b, m } }' | sort -n
}

# title prefix -> table of ours/mpi/gloo medians and BENCH lines (2 ranks: bus bandwidth = bytes/time)
tcp_report3() {
  local title=$1 prefix=$2
  echo
  echo "$title"
  join <(tcp_median "$prefix-ours") <(tcp_median "$prefix-mpi") | join - <(tcp_median "$prefix-gloo") | awk -v prefix="$prefix" '
    BEGIN { printf "%12s %11s %11s %11s %9s %9s %9s %9s %9s\n", "bytes", "ours us", "mpi us", "gloo us", "ours GB/s", "mpi GB/s", "gloo GB/s", "vs mpi", "vs gloo" }
    {
      ours = $1 / $2 / 1000; mpi = $1 / $3 / 1000; gloo = $1 / $4 / 1000
      printf "%12d %11.2f %11.2f %11.2f %9.3f %9.3f %9.3f %9.2f %9.2f\n", $1, $2, $3, $4, ours, mpi, gloo, ours / mpi, ours / gloo
      if ($1 == 4) latency = $2 / $3
      if ($1 >= 65536 && (bw == "" || ours / mpi < bw)) bw = ours / mpi
      if ($1 == 268435456) big = ours / mpi
      if (g == "" || ours / gloo < g) g = ours / gloo
    }
    END {
      printf "(medians in microseconds; GB/s = bus bandwidth; vs = ours/theirs bandwidth)\n"
      if (latency != "") printf "BENCH collectives %s_latency_4B_ratio=%.2f target=1.5 %s\n", prefix, latency, (latency <= 1.5 ? "pass" : "fail")
      if (bw != "") printf "BENCH collectives %s_busbw_ratio_min_64KB_up=%.2f target=1.0 %s\n", prefix, bw, (bw >= 1.0 ? "pass" : "fail")
      if (big != "") printf "BENCH collectives %s_busbw_ratio_256MB=%.2f target=1.5 %s\n", prefix, big, (big >= 1.5 ? "pass" : "fail")
      if (g != "") printf "BENCH collectives %s_vs_gloo_busbw_ratio_min=%.2f target=1.0 %s\n", prefix, g, (g >= 1.0 ? "pass" : "fail")
    }'
}

# 4 ranks over 2 hosts: hierarchical against flat (bus bandwidth = bytes/time * 2(n-1)/n = 1.5 bytes/time)
tcp_report_hierarchy() {
  echo
  echo "veth, 4 ranks (2 namespaces x 2): Accelerate hierarchical shm+tcp vs flat tcp"
  join <(tcp_median veth4-hier) <(tcp_median veth4-flat) | awk '
    BEGIN { printf "%12s %11s %11s %9s %9s %9s\n", "bytes", "hier us", "flat us", "hier GB/s", "flat GB/s", "ratio" }
    {
      h = 1.5 * $1 / $2 / 1000; f = 1.5 * $1 / $3 / 1000
      printf "%12d %11.2f %11.2f %9.3f %9.3f %9.2f\n", $1, $2, $3, h, f, h / f
      if ($1 >= 65536 && (r == "" || h / f < r)) r = h / f
    }
    END {
      printf "(medians in microseconds; GB/s = bus bandwidth)\n"
      if (r != "") printf "BENCH collectives veth4_hier_vs_flat_busbw_ratio_min_64KB_up=%.2f target=1.0 %s\n", r, (r >= 1.0 ? "pass" : "fail")
    }'
}

tcp_rows() {
  local round
  for round in $(seq "$tcp_rounds"); do
    tcp_round loopback-ours "$round" tcp_ours tcp 127.0.0.1 - -
    tcp_round loopback-mpi "$round" tcp_mpi loopback
    tcp_round loopback-gloo "$round" tcp_gloo loopback
  done
  tcp_report3 "TCP loopback (2 ranks): Accelerate tcp vs Open MPI (pml ob1, btl tcp,self) vs PyTorch gloo" loopback

  if ! tcp_namespaces_up 2>"$work/netns.log"; then
    tcp_namespaces_down
    echo
    echo "veth rows skipped: cannot create network namespaces here (needs root and iproute2): $(cat "$work/netns.log")"
    return 0
  fi
  trap 'tcp_namespaces_down; rm -rf "$work"' EXIT
  for round in $(seq "$tcp_rounds"); do
    tcp_round veth-ours "$round" tcp_ours tcp $tcp_net.1 "$tcp_a" "$tcp_b"
    tcp_round veth-mpi "$round" tcp_mpi veth
    tcp_round veth-gloo "$round" tcp_gloo veth
    tcp_round veth4-hier "$round" tcp_ours auto $tcp_net.1 "$tcp_a" "$tcp_a" "$tcp_b" "$tcp_b"
    tcp_round veth4-flat "$round" tcp_ours tcp $tcp_net.1 "$tcp_a" "$tcp_a" "$tcp_b" "$tcp_b"
  done
  tcp_namespaces_down
  tcp_report3 "veth (2 namespaces, 1 rank each): Accelerate tcp vs Open MPI (pml ob1, btl tcp,self) vs PyTorch gloo" veth
  tcp_report_hierarchy
}
