#!/usr/bin/env bash
# A throwaway single-node Slurm cluster (munged, slurmctld, slurmd on this host) for the Slurm tests.
# Everything it writes lives in one scratch directory; it needs root but no systemd and no cgroups, and it
# leaves a system munge or Slurm installation alone (own socket, ports, config, state and PID files).
# It installs nothing: scripts/setup.sh --slurm does that.
#
#   dir=$(tests/slurm/cluster.sh start)           # prints the scratch directory
#   export SLURM_CONF=$dir/slurm.conf             # every client (sbatch, squeue, scontrol) needs it
#   tests/slurm/cluster.sh status "$dir"
#   tests/slurm/cluster.sh stop "$dir"            # stops the daemons and removes the directory
#
# Environment: TB_SLURM_DIR (scratch directory instead of a new mktemp one, or the one stop/status use),
# TB_SLURM_PORT (slurmctld's port, slurmd uses the next one; default: the first free pair from 6817),
# TB_SLURM_KEEP=1 (stop keeps the directory, e.g. to read its logs).
set -euo pipefail

say() { echo "cluster: $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: tests/slurm/cluster.sh start [DIR] | stop [DIR] | status [DIR]
  start   create DIR (default $TB_SLURM_DIR or a new temporary directory), start munged, slurmctld and
          slurmd, wait until the node is idle, print DIR on stdout
  stop    cancel all jobs, stop the daemons by their PID files, remove DIR (kept if TB_SLURM_KEEP=1)
  status  show the daemons' PIDs, sinfo and squeue; exit 1 if a daemon is not running
EOF
}

# The requeue delay: slurmctld holds a requeued job for cred_expire + 1 seconds (default 120) so that the
# old step credentials cannot be replayed. Ten seconds is ample on one node and keeps the requeue test short.
CRED_EXPIRE=10
IDLE_TIMEOUT=60

# ---- munge ---------------------------------------------------------------------------------------------

munge_start() { # dir
  local m=$1/munge
  # munged refuses a socket directory that others cannot traverse and a key others can read.
  mkdir -p "$m"
  chmod 0755 "$m"
  dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 status=none
  chown -R munge:munge "$m"
  chmod 0400 "$m/munge.key"
  # munged insists its log and key belong to the user it runs as, and the key must belong to munge.
  runuser -u munge -- munged --socket="$m/munge.socket" --key-file="$m/munge.key" \
    --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed" \
    || die "munged did not start; see $m/munged.log"
  local _
  for _ in $(seq 50); do
    munge -S "$m/munge.socket" -n 2>/dev/null | unmunge -S "$m/munge.socket" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "munged does not answer on $m/munge.socket; see $m/munged.log"
}

# ---- slurm.conf ---------------------------------------------------------------------------------------

port_in_use() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A system Slurm (or another test's cluster) may hold the standard ports 6817/6818; take the next free pair.
free_port_pair() {
  local p
  for p in $(seq 6817 2 6915); do
    port_in_use "$p" || port_in_use $((p + 1)) || { echo "$p"; return 0; }
  done
  die "no free port pair between 6817 and 6916; set TB_SLURM_PORT"
}

# The node line exactly as slurmd detects this machine (CPUs, sockets, cores, threads, RealMemory), so the
# node never drains for a hardware mismatch.
detected_node_line() { # host
  local line
  line=$(slurmd -C | head -1)
  [[ "$line" == NodeName=* ]] || die "unexpected output from 'slurmd -C': $line"
  echo "NodeName=$1 ${line#NodeName=* }"
}

write_slurm_conf() { # dir host port
  local d=$1 host=$2 port=$3 node
  node=$(detected_node_line "$host")
  cat > "$d/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a single-node cluster for tests, no cgroups, no accounting.
ClusterName=tbtest
# The address is pinned to loopback because CI hosts often cannot resolve their own short name.
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=$CRED_EXPIRE
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
# No mail on a test node; the default /bin/mail is usually missing and slurmctld complains at every start.
MailProg=/bin/true
SlurmdDebug=info
# The default proctrack/cgroup kills slurmd on hosts without cgroup mounts; linuxproc needs none.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Short loops so a pending or requeued job starts within seconds instead of the next 30-60 s pass.
SchedulerParameters=sched_interval=2,bf_interval=2
# Debian's Open MPI only starts under srun through PMIx.
MpiDefault=pmix
JobRequeue=1
ReturnToService=2
# Tests read finished jobs with 'scontrol show job': keep their records 5 minutes, not the default.
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
SlurmctldTimeout=60
MessageTimeout=10
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

# ---- daemons -------------------------------------------------------------------------------------------

wait_node_idle() { # conf
  local _ state=""
  for _ in $(seq $((IDLE_TIMEOUT * 2))); do
    state=$(SLURM_CONF=$1 sinfo -h -o %t 2>/dev/null | head -1) || true
    [ "$state" = "idle" ] && return 0
    sleep 0.5
  done
  return 1
}

start() { # dir
  local d=$1 host port
  [ "$(id -u)" -eq 0 ] || die "must run as root (Slurm runs its jobs as root here)"
  local tool
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh --slurm"
  done
  host=$(hostname -s)
  port=${TB_SLURM_PORT:-}
  [ -n "$port" ] || port=$(free_port_pair) || exit 1
  mkdir -p "$d"
  chmod 0755 "$d"   # munged (running as munge) must reach its socket inside
  runuser -u munge -- test -x "$d" ||
    die "user munge cannot enter $d: make its parent directories searchable (chmod o+x) or choose another"
  [ ! -e "$d/run/slurmctld.pid" ] || die "$d already holds a cluster; stop it first"
  mkdir -p "$d/state" "$d/spool" "$d/run" "$d/log"
  munge_start "$d"
  write_slurm_conf "$d" "$host" "$port"
  export SLURM_CONF=$d/slurm.conf
  # -c: a fresh scratch directory has no state to recover, so start cold (the few "Could not open ...
  # state file" errors left in its log are expected).
  slurmctld -f "$SLURM_CONF" -c || abandon_start "$d" "slurmctld did not start"
  slurmd -f "$SLURM_CONF" || abandon_start "$d" "slurmd did not start"
  wait_node_idle "$SLURM_CONF" || abandon_start "$d" "node $host not idle after ${IDLE_TIMEOUT}s"
  say "node $host idle; SLURM_CONF=$SLURM_CONF"
  echo "$d"
}

# A half-started cluster would hold its ports and munged: show why it failed, then take it down.
abandon_start() { # dir reason
  say "$2:"
  SLURM_CONF=$1/slurm.conf sinfo -N -l >&2 || true
  tail -n 20 "$1/log/slurmctld.log" "$1/log/slurmd.log" >&2 || true
  stop "$1"
  exit 1
}

pid_alive() { # pidfile
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_daemon() { # pidfile name
  pid_alive "$1" || return 0
  local pid _
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "$2 (pid $pid) ignored SIGTERM for 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# Jobs are cancelled while slurmd still runs so that it reaps their step daemons and MPI processes.
cancel_jobs() { # conf
  local _
  SLURM_CONF=$1 scancel --quiet --full --partition=debug 2>/dev/null || return 0
  for _ in $(seq 30); do
    [ -z "$(SLURM_CONF=$1 squeue -h -o %i 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  say "jobs still listed after scancel; stopping the daemons anyway"
}

stop() { # dir
  local d=$1
  [ -d "$d" ] || die "no cluster directory $d"
  [ -f "$d/slurm.conf" ] && pid_alive "$d/run/slurmctld.pid" && cancel_jobs "$d/slurm.conf"
  stop_daemon "$d/run/slurmd.pid" slurmd
  stop_daemon "$d/run/slurmctld.pid" slurmctld
  stop_daemon "$d/munge/munged.pid" munged
  if [ "${TB_SLURM_KEEP:-0}" = 1 ]; then
    rm -f "$d/run/slurmctld.pid" "$d/run/slurmd.pid"
    say "stopped; kept $d"
  else
    rm -rf "$d"
    say "stopped; removed $d"
  fi
}

status() { # dir
  local d=$1 rc=0 f
  for f in munge/munged.pid run/slurmctld.pid run/slurmd.pid; do
    if pid_alive "$d/$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$d/$f"))"
    else echo "$(basename "$f" .pid): not running"; rc=1; fi
  done
  if [ "$rc" -eq 0 ]; then
    SLURM_CONF=$d/slurm.conf sinfo -N -l
    SLURM_CONF=$d/slurm.conf squeue
  fi
  return "$rc"
}

main() {
  local cmd=${1:-} dir
  [ $# -ge 1 ] && shift
  case "$cmd" in
    start)
      dir=${1:-${TB_SLURM_DIR:-}}
      [ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/tb-slurm.XXXXXX")
      start "$dir" ;;
    stop|status)
      dir=${1:-${TB_SLURM_DIR:-}}
      [ -n "$dir" ] || die "$cmd: give the cluster directory (argument or TB_SLURM_DIR)"
      "$cmd" "$dir" ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
