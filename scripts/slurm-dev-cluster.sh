#!/usr/bin/env bash
# A single-node SLURM on this machine, for development and CI (issue 19).
#
#   scripts/slurm-dev-cluster.sh start    install slurm-wlm + munge if missing, write the
#                                         config, start munged/slurmctld/slurmd, wait for idle
#   scripts/slurm-dev-cluster.sh stop     stop the three daemons (the config stays)
#   scripts/slurm-dev-cluster.sh status   print the daemons and `sinfo`; exit 1 if not up
#
# Runs as root (or through sudo) on Debian/Ubuntu. The cluster is one node named after this
# machine's hostname with SLURM_DEV_CPUS CPUs (default 2) and one partition, `debug`.
#
# Choices, made so that it runs in containers (no systemd, no cgroup delegation, gVisor):
#   * ProctrackType=proctrack/linuxproc and TaskPlugin=task/none: no cgroups at all;
#   * JobAcctGatherType=jobacct_gather/none and AccountingStorageType=accounting_storage/none:
#     no slurmdbd and no database, so `sacct` does NOT work here. Finished jobs stay
#     visible to `scontrol show job` for MinJobAge=3600 s, and every finished job is
#     appended to the jobcomp/filetxt log $SLURM_DEV_JOBCOMP (JobState=COMPLETED/FAILED/
#     TIMEOUT/CANCELLED..., ExitCode). materials_ai reads squeue, then sacct where it
#     works (real clusters), then scontrol, then that log.
#   * SlurmUser=root and SlurmdUser=root: a dev cluster; jobs run as the submitting user.
#   * KillWait=5: a job past its walltime is killed 5 s after SIGTERM (default 30 s).
#
# The config is written to /etc/slurm/slurm.conf (where Debian's clients look), with a marker
# line; a slurm.conf without that marker (a real installation) is never overwritten.
set -euo pipefail

CPUS="${SLURM_DEV_CPUS:-2}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
MARKER="# written by materials-ai scripts/slurm-dev-cluster.sh"
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm
JOBCOMP="${SLURM_DEV_JOBCOMP:-$LOG_DIR/jobcomp.log}"
WAIT_S="${SLURM_DEV_WAIT_S:-60}"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "slurm-dev-cluster: needs root (or sudo)" >&2; exit 1; fi
fi

log() { echo "slurm-dev-cluster: $*" >&2; }

install_packages() {
    local missing=()
    for cmd in slurmctld slurmd sbatch munged; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing slurm-wlm and munge (missing: ${missing[*]}) ..."
    # apt-get update only when the package lists do not know slurm-wlm yet.
    if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
        $SUDO apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/tmp/slurm-dev-cluster-apt.log 2>&1 || {
        log "apt-get install failed (see /tmp/slurm-dev-cluster-apt.log)"; exit 1; }
}

node_memory_mb() {
    # 90 % of the machine's memory, so that jobs asking for --mem fit on the node.
    awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo
}

write_config() {
    local host mem
    host="$(hostname -s)"
    mem="$(node_memory_mb)"
    if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        log "$CONF exists and was not written by this script: leaving it alone"
        return 0
    fi
    $SUDO mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR" "$RUN_DIR"
    $SUDO tee "$CONF" >/dev/null <<EOF
$MARKER
# A one-node development cluster; see the script for the choices.
ClusterName=materials-ai-dev
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

start_munge() {
    running munged && return 0
    if [ ! -s /etc/munge/munge.key ]; then
        $SUDO mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
            || $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        $SUDO chown munge:munge /etc/munge/munge.key 2>/dev/null || true
        $SUDO chmod 400 /etc/munge/munge.key
    fi
    $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
    $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then
        $SUDO runuser -u munge -- /usr/sbin/munged
    else
        $SUDO /usr/sbin/munged --force
    fi
    for _ in $(seq 1 40); do [ -S /run/munge/munge.socket.2 ] && return 0; sleep 0.25; done
    die_with_logs "munged did not open its socket within 10 s"
}

die_with_logs() {
    log "$1; the last lines of the logs in $LOG_DIR:"
    tail -n 15 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    exit 1
}

node_state() {
    sinfo -h -N -o '%T' 2>/dev/null | head -n1
}

start() {
    install_packages
    write_config
    start_munge
    running slurmctld || $SUDO slurmctld || die_with_logs "slurmctld did not start"
    running slurmd || $SUDO slurmd || die_with_logs "slurmd did not start"
    local deadline=$((SECONDS + WAIT_S)) state=""
    while [ $SECONDS -lt $deadline ]; do
        state="$(node_state)"
        case "$state" in
            # mixed/allocated: up, running jobs submitted while it was starting.
            idle|mixed|allocated) sinfo; log "node $(hostname -s) is $state"; return 0 ;;
            down*|drain*)
                # A node left down by an earlier run (e.g. a changed CPU count): resume it.
                $SUDO scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    die_with_logs "node not idle after ${WAIT_S}s (state: ${state:-none})"
}

stop_daemon() {
    local name="$1" pid_file="$2" pid
    if [ -f "$pid_file" ]; then
        pid="$(cat "$pid_file")"
        $SUDO kill "$pid" 2>/dev/null || true
    fi
    for _ in $(seq 1 40); do running "$name" || return 0; sleep 0.25; done
    log "$name did not stop within 10 s"
    return 1
}

stop() {
    # Jobs still running when slurmd stops are orphaned (they stay RUNNING after a restart):
    # cancel every job of this dev cluster and wait for the queue to drain.
    if running slurmctld; then
        local jobs
        jobs="$(squeue -h -o %A 2>/dev/null || true)"
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            $SUDO scancel $jobs 2>/dev/null || true
            for _ in $(seq 1 60); do
                [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
                sleep 0.25
            done
        fi
    fi
    stop_daemon slurmd "$RUN_DIR/slurmd.pid" || true
    stop_daemon slurmctld "$RUN_DIR/slurmctld.pid" || true
    stop_daemon munged /run/munge/munged.pid || true
    log "stopped"
}

status() {
    local ok=0
    for daemon in munged slurmctld slurmd; do
        if running "$daemon"; then echo "$daemon: running"; else echo "$daemon: stopped"; ok=1; fi
    done
    if [ $ok -eq 0 ]; then sinfo || ok=1; fi
    return $ok
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
