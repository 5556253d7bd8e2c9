#!/usr/bin/env bash
# Makes sure this machine has every Debian 12 package trustbench needs to build, test and analyse results
# (the table in DESIGN.md). Missing packages are installed with apt when run as root; otherwise the exact
# install command is printed. Silent when nothing is missing, so it can open any command line:
#
#   scripts/setup.sh && cmake --preset release && cmake --build --preset release -j
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/setup.sh [--check] [--slurm] [--help]

Checks (with dpkg-query) that the Debian 12 packages trustbench needs are installed.
As root, installs the missing ones with apt-get; as another user, prints the
sudo apt-get command to run and exits 1.

  --check   only report missing packages; exit 1 if any are missing
  --slurm   also require Slurm and munge (for the tests/slurm single-node cluster)
  --help    show this help
EOF
}

# Compiler, build system and the pkg-config files CMakeLists.txt looks up.
BUILD_PACKAGES=(build-essential cmake pkg-config)
# Libraries linked into trustbench (headers + the .so + pkg-config/CMake files come with the -dev packages).
LIBRARY_PACKAGES=(libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libopenblas-dev libscalapack-openmpi-dev
                  libhwloc-dev libyaml-dev libjansson-dev zlib1g-dev libcmocka-dev)
# Debian's /usr/bin/python3 runs the analysis scripts and the PyTorch cross-check tests.
PYTHON_PACKAGES=(python3-h5py python3-numpy python3-matplotlib python3-torch python3-scipy python3-sklearn)
# slurm-wlm pulls in slurm-client; slurmctld and slurmd are named so a partial install is caught too.
SLURM_PACKAGES=(slurm-wlm slurmctld slurmd munge)

say() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

missing_packages() {
  local pkg
  for pkg in "$@"; do
    is_installed "$pkg" || echo "$pkg"
  done
}

# A fresh machine may have empty package lists, in which case apt-get knows no candidate to install.
lists_lack_candidate() {
  local pkg
  for pkg in "$@"; do
    apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 || return 0
  done
  return 1
}

# Runs an apt-get command quietly, showing its output only when it fails.
run_apt() {
  local log
  log=$(mktemp)
  if DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  cat "$log" >&2
  rm -f "$log"
  return 1
}

install_packages() {
  if lists_lack_candidate "$@"; then
    say "apt-get update (package lists do not know all of: $*)"
    run_apt update || die "apt-get update failed; check the network and /etc/apt/sources.list"
  fi
  say "installing $# package(s): $*"
  local install=(install -y --no-install-recommends "$@")
  if ! run_apt "${install[@]}"; then
    # Lists older than the mirror point at .deb versions that are gone: refresh them once and retry.
    say "install failed; apt-get update and retry"
    run_apt update || die "apt-get update failed; check the network and /etc/apt/sources.list"
    run_apt "${install[@]}" || die "apt-get install failed for: $*"
  fi
}

main() {
  local check_only=0 with_slurm=0 arg
  for arg in "$@"; do
    case "$arg" in
      --check) check_only=1 ;;
      --slurm) with_slurm=1 ;;
      --help|-h) usage; exit 0 ;;
      *) usage >&2; die "unknown option '$arg'" ;;
    esac
  done

  local wanted=("${BUILD_PACKAGES[@]}" "${LIBRARY_PACKAGES[@]}" "${PYTHON_PACKAGES[@]}")
  [ "$with_slurm" -eq 0 ] || wanted+=("${SLURM_PACKAGES[@]}")

  if ! command -v dpkg-query >/dev/null; then
    # Not Debian-based (e.g. a cluster with environment modules): CMake's own checks name what is missing.
    echo "setup: not a Debian system, packages not checked; trustbench needs the equivalents of:" >&2
    echo "setup:   ${wanted[*]}" >&2
    exit 0
  fi

  local missing
  mapfile -t missing < <(missing_packages "${wanted[@]}")
  [ "${#missing[@]}" -gt 0 ] || exit 0

  if [ "$check_only" -eq 1 ]; then
    die "missing ${#missing[@]} package(s): ${missing[*]}"
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${#missing[@]} package(s). Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi

  install_packages "${missing[@]}"
  mapfile -t missing < <(missing_packages "${wanted[@]}")
  [ "${#missing[@]}" -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
}

main "$@"
