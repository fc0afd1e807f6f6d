#!/usr/bin/env bash
# Installs the Debian packages that tests and benchmarks use (MPI, network namespaces, PyYAML to check
# that HF accelerate reads our config files, `script` for pseudo-terminal tests, strace to check the
# order in which a checkpoint save flushes and renames, readelf to check what the ELF reader finds,
# PyTorch (CPU) to check that Python reads the weights SaveModel writes and that LoadModel reads what
# PyTorch writes (and, with OpenBLAS, as the gloo baseline of bench/collectives), SLURM clusters (slurmctld, slurmd, munge) for the srun/sbatch tests: one node on this
# machine, and two nodes as network namespaces behind a bridge (iproute2's ip, util-linux's nsenter),
# the Native AOT toolchain for the native launcher (clang to compile and link, zlib1g-dev for -lz; binutils
# brings ld and objcopy)), when missing.
# Needs root (or sudo); without either it says what to install and carries on.
set -euo pipefail

packages=(openmpi-bin libopenmpi-dev iproute2 procps python3-yaml bsdutils util-linux strace binutils python3-torch libopenblas0-pthread
  slurmctld slurmd slurm-client munge clang zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "eng/install-prerequisites.sh: missing ${missing[*]}; install them as root (apt-get install ${missing[*]}) to run every test." >&2
  exit 0
fi
echo "Installing ${missing[*]}..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
