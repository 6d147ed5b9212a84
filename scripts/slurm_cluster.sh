#!/usr/bin/env bash
# A single-node SLURM cluster on the loopback address, for the SLURM tests (make test-slurm).
#
#   scripts/slurm_cluster.sh install   # the Debian packages, if missing (root, apt-get)
#   scripts/slurm_cluster.sh start     # munged, mariadbd, slurmdbd, slurmctld, slurmd
#   scripts/slurm_cluster.sh status    # which of them run; sinfo
#   scripts/slurm_cluster.sh stop      # cancels the cluster's jobs, stops what `start` started
#   scripts/slurm_cluster.sh env       # prints `export SLURM_CONF=...` for sbatch / squeue / sacct
#
# Everything lives in one folder, $SCCL_SLURM_DIR (default /tmp/sccl-slurm): etc/ (slurm.conf,
# slurmdbd.conf), logs/ (one log per daemon), pids/ (the PID of every daemon this script
# started), munge/, mysql/, spool/. The daemons run in the foreground under setsid, as root
# (munged as the munge user), reachable on 127.0.0.1 only (mariadbd: no network at all, a unix
# socket in the folder). Nothing outside the folder is configured: client commands find the
# cluster through SLURM_CONF. `start` and `stop` are idempotent; `stop` stops only processes
# whose PID it recorded (and checks that each PID still runs the program it started).
# Ports: $SCCL_SLURM_PORT (default 6817) for slurmctld, +1 slurmd, +2 slurmdbd.
set -euo pipefail

DIR=${SCCL_SLURM_DIR:-/tmp/sccl-slurm}
PORT=${SCCL_SLURM_PORT:-6817}
NODE=localhost
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)   # start order; stop goes backwards

say() { echo "slurm_cluster: $*"; }
die() { echo "slurm_cluster: error: $*" >&2; exit 1; }

# ------------------------------------------------------------------ install

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "packages present: ${PACKAGES[*]}"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "installing ${missing[*]} needs root (apt-get); run as root or install them first"
    command -v apt-get >/dev/null || die "no apt-get: install ${missing[*]} (SLURM 22+, munge, MariaDB) by hand"
    say "installing ${missing[*]} ..."
    local t0=$SECONDS
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    # the packages' own service starts are refused here (no init system); we start the daemons below
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "installed in $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------ pids

pidfile() { echo "$DIR/pids/$1.pid"; }

# whether process $1 exists and is not a zombie (an exited daemon whose parent has not reaped it)
alive() {
    case $(ps -o stat= -p "$1" 2>/dev/null) in
        "" | Z*) return 1 ;;
    esac
    return 0
}

# the PID recorded for daemon $1 if that process is alive and still runs $1
running_pid() {
    local f pid
    f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -n "$pid" ] && alive "$pid" || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "$1" || return 1
    echo "$pid"
}

# start daemon $1 (argv after it) in the foreground under setsid; record its PID
launch() {
    local name=$1
    shift
    if pid=$(running_pid "$name"); then
        say "$name already running (pid $pid)"
        return 0
    fi
    # a non-interactive shell's background job is not a process-group leader, so setsid does not
    # fork: $! is the daemon's own PID
    setsid "$@" >>"$DIR/logs/$name.out" 2>&1 </dev/null &
    echo $! >"$(pidfile "$name")"
    say "$name started (pid $!)"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local limit=$1 what=$2
    shift 2
    local t0=$SECONDS
    until timeout 10 "$@" >/dev/null 2>&1; do
        sleep 0.2
        if [ $((SECONDS - t0)) -ge "$limit" ]; then
            say "$what did not come up within $limit s; last log lines:"
            tail -n 15 "$DIR"/logs/*.log 2>/dev/null | sed 's/^/    /' >&2 || true
            die "$what did not come up (logs: $DIR/logs)"
        fi
    done
}

# ------------------------------------------------------------------ configuration

write_config() {
    mkdir -p "$DIR"/{etc,logs,pids,spool/ctld,spool/d,mysql,run}
    chmod 755 "$DIR"
    # munged insists on folders owned by the user it runs as: the socket's open to all (clients
    # connect to it), the key's closed to others
    install -d -m 755 -o munge -g munge "$DIR/munge"
    install -d -m 700 -o munge -g munge "$DIR/munge/private"
    if [ ! -s "$DIR/munge/private/munge.key" ]; then
        dd if=/dev/urandom bs=1 count=1024 of="$DIR/munge/private/munge.key" status=none
        chown munge:munge "$DIR/munge/private/munge.key"
        chmod 400 "$DIR/munge/private/munge.key"
    fi
    # the node line from the hardware (CPUs, sockets, cores, memory), under our node name
    local hw
    hw=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
    cat >"$DIR/etc/slurm.conf" <<EOF
# written by scripts/slurm_cluster.sh: a single-node test cluster on 127.0.0.1
ClusterName=sccl
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
# listen on 127.0.0.1 only (the node's and the controller's addresses), not on every interface
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/logs/slurmctld.log
SlurmdLogFile=$DIR/logs/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no systemd / cgroups here: track a job's processes through /proc, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# start a job as soon as it is submitted (the default batches them: about 3 s per job)
SchedulerParameters=batch_sched_delay=0
# submitit's job wrapper ignores SIGTERM: SIGKILL 5 s after a cancel, not 30
KillWait=5
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$NODE
AccountingStoragePort=$((PORT + 2))
# (for the slurmdbd connection this is the munge socket to use)
AccountingStoragePass=$DIR/munge/munge.socket
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$DIR/etc/slurmdbd.conf" <<EOF
# written by scripts/slurm_cluster.sh
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
CommunicationParameters=NoInAddrAny
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=sccl_slurm_acct
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/logs/slurmdbd.log
DebugLevel=info
EOF
    chmod 600 "$DIR/etc/slurmdbd.conf"
    cat >"$DIR/env" <<EOF
export SLURM_CONF=$DIR/etc/slurm.conf
EOF
}

# ------------------------------------------------------------------ start / stop

start() {
    for cmd in slurmctld slurmd slurmdbd munged mariadbd sbatch sacct; do
        command -v "$cmd" >/dev/null || die "$cmd not found: run \`$0 install\` (or make test-slurm) first"
    done
    [ "$(id -u)" = 0 ] || die "the test cluster runs its daemons as root; run as root"
    local t0=$SECONDS
    write_config
    export SLURM_CONF="$DIR/etc/slurm.conf"
    # the MariaDB client library of slurmdbd finds the server's socket through this variable
    export MYSQL_UNIX_PORT="$DIR/mysql/mysqld.sock"

    # setpriv execs munged as the munge user (runuser would stay as its parent: a wrong PID)
    launch munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
        --key-file="$DIR/munge/private/munge.key" --socket="$DIR/munge/munge.socket" \
        --pid-file="$DIR/munge/private/munged.pid" --seed-file="$DIR/munge/private/munged.seed" \
        --log-file="$DIR/munge/private/munged.log"
    wait_for 10 munged test -S "$DIR/munge/munge.socket"

    if [ ! -d "$DIR/mysql/data/mysql" ]; then
        say "creating the accounting database in $DIR/mysql/data ..."
        mariadb-install-db --user=root --datadir="$DIR/mysql/data" --skip-test-db \
            --auth-root-authentication-method=socket >"$DIR/logs/mariadb-install.log" 2>&1 \
            || die "mariadb-install-db failed: see $DIR/logs/mariadb-install.log"
    fi
    launch mariadbd mariadbd --no-defaults --user=root --datadir="$DIR/mysql/data" --skip-networking \
        --socket="$MYSQL_UNIX_PORT" --pid-file="$DIR/run/mariadbd.pid" --log-error="$DIR/logs/mariadbd.log" \
        --innodb-buffer-pool-size=32M
    wait_for 30 mariadbd test -S "$MYSQL_UNIX_PORT"

    launch slurmdbd slurmdbd -D
    wait_for 30 slurmdbd sacctmgr -n list cluster
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx sccl; then
        sacctmgr -i add cluster sccl >/dev/null
    fi

    launch slurmctld slurmctld -D -i
    wait_for 30 slurmctld scontrol ping
    launch slurmd slurmd -D -N "$NODE"
    wait_for 30 "the node" bash -c "sinfo -h -n $NODE -o %T | grep -Eq '^(idle|mixed|allocated)'"
    say "up in $((SECONDS - t0)) s; for sbatch / squeue / sacct: source $DIR/env (SLURM_CONF=$SLURM_CONF)"
}

stop_daemon() {
    local name=$1 pid
    if ! pid=$(running_pid "$name"); then
        rm -f "$(pidfile "$name")"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        say "$name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$name")"
    say "$name stopped (pid $pid)"
}

stop() {
    if [ ! -d "$DIR/pids" ]; then
        say "nothing to stop ($DIR/pids does not exist)"
        return 0
    fi
    export SLURM_CONF="$DIR/etc/slurm.conf"
    if running_pid slurmctld >/dev/null; then
        # this cluster's jobs (SLURM_CONF points at it): cancel them, give them KillWait to end
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            say "cancelling $(echo "$jobs" | wc -l) job(s)"
            scancel $jobs 2>/dev/null || true
            for _ in $(seq 1 100); do
                [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    local i
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        stop_daemon "${DAEMONS[$i]}"
    done
    stop_leftover_jobs
}

# processes of this cluster's jobs that outlived its daemons (a job that ignored the cancel):
# slurmstepd and job processes carry this cluster's SLURM_CONF in their environment
leftover_jobs() {
    local conf="SLURM_CONF=$DIR/etc/slurm.conf" p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "$conf" || continue
        alive "$pid" || continue
        if grep -q '^slurmstepd' "$p/comm" 2>/dev/null || { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q '^SLURM_JOB_ID='; then
            echo "$pid"
        fi
    done
}

stop_leftover_jobs() {
    local pids
    pids=$(leftover_jobs)
    [ -z "$pids" ] && return 0
    say "stopping $(echo "$pids" | wc -w) leftover job process(es) of this cluster: $(echo $pids)"
    kill -TERM $pids 2>/dev/null || true
    sleep 2
    pids=$(leftover_jobs)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    return 0
}

status() {
    local up=0 pid
    for d in "${DAEMONS[@]}"; do
        if pid=$(running_pid "$d"); then
            echo "$d: running (pid $pid)"
            up=$((up + 1))
        else
            echo "$d: not running"
        fi
    done
    if [ $up -eq ${#DAEMONS[@]} ]; then
        SLURM_CONF="$DIR/etc/slurm.conf" sinfo
        return 0
    fi
    return 3
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) status ;;
    env) echo "export SLURM_CONF=$DIR/etc/slurm.conf" ;;
    *) echo "usage: $0 install|start|stop|restart|status|env  (folder: \$SCCL_SLURM_DIR, now $DIR)" >&2; exit 2 ;;
esac
