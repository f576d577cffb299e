#!/usr/bin/env bash
# Starts and stops a real local Slurm cluster (munge + slurmctld + N slurmds), everything under one
# folder, for the slurm-labelled tests (a ctest fixture) and the benchmarks. Needs root.
#
# Layout ("closest to a real cluster", see shared/notes/platform.md): a bridge kkbr0 in the root
# network namespace (10.201.0.254/24), one network namespace kk-nK per node with a veth pair
# (root side kkv-nK, node side kkp-nK, address 10.201.0.K), each slurmd in its namespace with its
# own host name nK (nsenter --net + unshare --uts; `ip netns exec` hides /sys/fs/cgroup and
# slurmd dies), /etc/hosts lines for n1..nN marked "# kakuren-test-cluster". slurmctld runs in the
# root namespace on port 6917 (slurmd 6918), so a real cluster on the host is not disturbed.
# Only one such cluster can run per machine (fixed names, ports and addresses).
#
# Measured here (Debian 12, 2 cores, Slurm 22.05.8), with this file's settings:
# - start: 0.2-0.5 s to both nodes idle (it waits for slurmctld's port before starting slurmds: a
#   slurmd that finds no listener retries only ~8 s later). stop: 0.2-0.4 s; up to ~6 s right
#   after a cut/heal (daemons busy with the lost node). The first batch job after a start takes
#   ~3 s to run, later ones ~1 s (sbatch -> RUNNING).
# - Ranks see their own node: `srun hostname` prints n1 / n2, `getent hosts n1` gives 10.201.0.1,
#   a TCP server of rank 0 on n1 is reachable from n2 (c10d rendezvous works).
# - `cut n2` while a 2-node job runs (SlurmdTimeout=5, MessageTimeout=3): after ~6 s sinfo shows
#   n2 "allocated*" (not responding); after ~12 s n2 is DOWN (reason "Not responding"), srun in
#   the batch script prints "Node failure on n2", the step on n1 is cancelled "DUE TO NODE
#   FAILURE". A job with requeue allowed goes COMPLETING -> PENDING (reason BeginTime,
#   Restarts=1) and would start again only after 121 s (Slurm's requeue delay; kakuren's
#   Client::start_now moves it); a job submitted with --no-requeue ends NODE_FAIL, reason
#   NodeDown, ExitCode 0:15. (Default MessageTimeout=10: not responding at 13 s, DOWN at 27 s;
#   MessageTimeout=5: 8.5 s / 16 s.) The cut-off node's processes go on running until `heal`:
#   its slurmd then registers again, slurmctld kills the orphaned step and (ReturnToService=2)
#   the node is idle again within ~1 s.
# - Requeue: slurmd refuses a relaunch in the same second as the kill ("Job credential
#   revoked", the job then FAILS), and slurmctld moves a begin time that is not in the future
#   to now+121 s when the old run ends. sched_interval=1 makes a job whose begin time passes
#   start within ~1 s (the default 60 s left it to backfill: ~16 s here).
#
# Usage: see usage() below.
set -euo pipefail

readonly k_mark="# kakuren-test-cluster"
readonly k_bridge=kkbr0
readonly k_net=10.201.0
readonly k_ctld_port=6917
readonly k_slurmd_port=6918
readonly k_idle_timeout_s=30

usage() {
    cat <<'EOF'
Usage: cluster.sh start  DIR [--nodes N]   start a fresh N-node cluster (default 2) under DIR;
                                           writes DIR/env (source it: exports SLURM_CONF)
       cluster.sh stop   DIR               cancel all jobs, stop the daemons, remove namespaces,
                                           links and /etc/hosts lines (idempotent)
       cluster.sh cut    DIR NODE          take NODE's link down (a real node failure)
       cluster.sh heal   DIR NODE          bring NODE's link up, resume it, wait until it is idle
                                           and a step launched on it has run
       cluster.sh status DIR               sinfo of the cluster
Needs root. Nodes are n1..nN at 10.201.0.1.., the controller listens on 10.201.0.254:6917.
EOF
}

die() {
    echo "cluster.sh: error: $*" >&2
    exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# A pid counts as alive unless it is gone or a zombie (the container's PID 1 reaps late).
pid_alive() {
    local pid=$1 state
    [[ $pid =~ ^[1-9][0-9]*$ && -r /proc/$pid/stat ]] || return 1
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# TERM the pids, KILL what is still alive after 5 s.
stop_pids() {
    local pids=() pid deadline
    for pid in "$@"; do
        [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" && pids+=("$pid")
    done
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    deadline=$(($(date +%s%N) + 5000000000))
    while (($(date +%s%N) < deadline)); do
        local alive=0
        for pid in "${pids[@]}"; do pid_alive "$pid" && alive=1; done
        ((alive)) || return 0
        sleep 0.05
    done
    for pid in "${pids[@]}"; do
        pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
}

pid_from_file() { [[ -r $1 ]] && tr -dc '0-9' <"$1" || true; }

# Removes our /etc/hosts lines in place (the file may be a bind mount: no rename).
remove_hosts_lines() {
    grep -qF "$k_mark" /etc/hosts 2>/dev/null || return 0
    local kept
    kept=$(grep -vF "$k_mark" /etc/hosts || true)
    printf '%s\n' "$kept" >/etc/hosts
}

nodes_in_conf() {
    local conf=$1
    [[ -r $conf ]] || return 0
    sed -n 's/^NodeName=\([^ ]*\) .*/\1/p' "$conf"
}

# The pid holding the controller port when it is not this DIR's slurmctld (another folder's
# cluster); empty otherwise.
other_cluster_pid() {
    local dir=$1 holder
    holder=$(ss -Hltnp "sport = :${k_ctld_port}" 2>/dev/null | grep -o 'pid=[0-9]*' |
        head -n 1 || true)
    holder=${holder#pid=}
    [[ -z $holder || $holder == "$(pid_from_file "$dir/slurmctld.pid")" ]] || echo "$holder"
}

# Everything a cluster (of this DIR or a stale one) left behind. Idempotent. The network and
# /etc/hosts lines are left alone while another folder's cluster is up (they are its).
do_stop() {
    local dir=$1 conf=$1/slurm.conf t0 ns pid other
    t0=$(now)
    other=$(other_cluster_pid "$dir")
    if [[ -r $conf ]] && pid_alive "$(pid_from_file "$dir/slurmctld.pid")"; then
        SLURM_CONF=$conf timeout 10 scancel --quiet --full --user=root 2>/dev/null || true
        SLURM_CONF=$conf timeout 10 scancel --quiet --user=root 2>/dev/null || true
    fi
    # slurmds, then every process left in the node namespaces (slurmstepd, job processes).
    local pids=()
    for node in $(nodes_in_conf "$conf"); do
        pids+=("$(pid_from_file "$dir/slurmd-$node.pid")")
    done
    stop_pids "${pids[@]}"
    if [[ -n $other ]]; then
        stop_pids "$(pid_from_file "$dir/slurmctld.pid")"
        stop_pids "$(pid_from_file "$dir/munge/munged.pid")"
        echo "cluster.sh: stopped (${dir}) in $(elapsed "$t0") s; network left to the cluster" \
            "of pid $other"
        return 0
    fi
    # What is left there belongs to jobs (slurmstepd of a cut-off node ignores TERM): KILL it.
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^kk-n[0-9]+$/ { print $1 }'); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
        done
    done
    # slurmctld's helper slurmscriptd inherits the listening socket: stop both.
    local ctld
    ctld=$(pid_from_file "$dir/slurmctld.pid")
    if pid_alive "$ctld"; then
        stop_pids "$ctld" $(pgrep -P "$ctld" || true)
    fi
    stop_pids "$(pid_from_file "$dir/munge/munged.pid")"
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^kk-n[0-9]+$/ { print $1 }'); do
        ip netns delete "$ns" 2>/dev/null || true
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
        grep -E '^kkv-n[0-9]+$' || true); do
        ip link delete "$link" 2>/dev/null || true
    done
    ip link show "$k_bridge" >/dev/null 2>&1 && ip link delete "$k_bridge" 2>/dev/null || true
    remove_hosts_lines
    rm -f "$dir"/*.pid "$dir/munge/munged.pid" "$dir/munge/munge.socket.2"* 2>/dev/null || true
    echo "cluster.sh: stopped (${dir}) in $(elapsed "$t0") s"
}

write_conf() {
    local dir=$1 nodes=$2 host
    host=$(hostname -s)
    : >"$dir/plugstack.conf"
    cat >"$dir/slurm.conf" <<EOF
# Generated by kakuren tests/slurm/cluster.sh; rewritten on every start.
ClusterName=kakuren-test
SlurmctldHost=${host}(${k_net}.254)
SlurmctldPort=${k_ctld_port}
SlurmdPort=${k_slurmd_port}
SrunPortRange=60001-60100
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${dir}/munge/munge.socket.2
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool/slurmd-%n
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd-%n.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=${dir}/plugstack.conf
TmpFS=${dir}/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
KillOnBadExit=1
JobRequeue=1
SlurmdTimeout=5
MessageTimeout=3
PropagateResourceLimits=NONE
EOF
    local k
    for ((k = 1; k <= nodes; k++)); do
        echo "NodeName=n${k} NodeHostname=n${k} NodeAddr=${k_net}.${k} CPUs=2 Boards=1" \
            "SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN" \
            >>"$dir/slurm.conf"
    done
    # debug: where the tests' jobs go; urgent: a higher tier whose jobs preempt (requeue) them.
    # (Every node is in both: per-node sinfo queries name the partition, or they print twice.)
    {
        echo "PreemptType=preempt/partition_prio"
        echo "PreemptMode=REQUEUE"
        echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 GraceTime=20"
        echo "PartitionName=urgent Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF"
    } >>"$dir/slurm.conf"
}

start_munge() {
    local dir=$1/munge
    mkdir -p "$dir"
    chmod 0755 "$dir"
    [[ -s $dir/munge.key ]] || mungekey --create --keyfile="$dir/munge.key" >/dev/null
    chmod 0600 "$dir/munge.key"
    munged --socket="$dir/munge.socket.2" --key-file="$dir/munge.key" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" ||
        die "munged did not start; see $dir/munged.log"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -S $dir/munge.socket.2 ]] && return 0
        sleep 0.02
    done
    die "munged did not create its socket $dir/munge.socket.2; see $dir/munged.log"
}

start_network() {
    local nodes=$1 k
    ip link add "$k_bridge" type bridge
    ip addr add "${k_net}.254/24" dev "$k_bridge"
    ip link set "$k_bridge" up
    for ((k = 1; k <= nodes; k++)); do
        ip netns add "kk-n$k"
        ip link add "kkv-n$k" type veth peer name "kkp-n$k"
        ip link set "kkp-n$k" netns "kk-n$k"
        ip link set "kkv-n$k" master "$k_bridge"
        ip link set "kkv-n$k" up
        ip -n "kk-n$k" link set lo up
        ip -n "kk-n$k" addr add "${k_net}.$k/24" dev "kkp-n$k"
        ip -n "kk-n$k" link set "kkp-n$k" up
    done
    remove_hosts_lines
    for ((k = 1; k <= nodes; k++)); do
        printf '%s\tn%s\t%s\n' "${k_net}.$k" "$k" "$k_mark" >>/etc/hosts
    done
}

print_logs() {
    local dir=$1 f
    for f in "$dir"/log/*.log "$dir/munge/munged.log"; do
        [[ -r $f ]] || continue
        echo "==> $f <==" >&2
        tail -n 20 "$f" >&2
    done
}

# Polls sinfo until the nodes are all in one of the given states (e.g. "idle").
wait_nodes() {
    local conf=$1 want=$2 timeout_s=$3 nodes=${4:-} deadline states
    deadline=$(($(date +%s%N) + timeout_s * 1000000000))
    while (($(date +%s%N) < deadline)); do
        if [[ -n $nodes ]]; then
            states=$(SLURM_CONF=$conf sinfo -h -N -p debug -n "$nodes" -o %T 2>/dev/null || true)
        else
            states=$(SLURM_CONF=$conf sinfo -h -N -p debug -o %T 2>/dev/null || true)
        fi
        if [[ -n $states ]] && ! grep -qvx "$want" <<<"$states"; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

do_start() {
    local dir=$1 nodes=$2 t0 conf k
    t0=$(now)
    [[ $(id -u) == 0 ]] || die "start needs root (network namespaces, /etc/hosts)"
    # Names, addresses and ports are fixed: one such cluster per machine. Refuse (touching
    # nothing) when another folder's cluster holds the controller port.
    local holder
    holder=$(other_cluster_pid "$dir")
    if [[ -n $holder ]]; then
        local what
        what=$(tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null || true)
        die "port ${k_ctld_port} is held by pid $holder (${what:-unknown}); if that is another" \
            "kakuren test cluster, stop it first: cluster.sh stop <its DIR>"
    fi
    do_stop "$dir" >/dev/null
    rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/tmp" "$dir/jobcomp.txt" "$dir/env"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/tmp"
    chmod 1777 "$dir/tmp"
    conf=$dir/slurm.conf
    write_conf "$dir" "$nodes"
    start_munge "$dir"
    start_network "$nodes"
    slurmctld -f "$conf" || {
        print_logs "$dir"
        die "slurmctld did not start"
    }
    # slurmd registers at once; one that finds no listener waits seconds before its next try.
    local i
    for ((i = 0; i < 500; i++)); do
        timeout 1 bash -c "exec 3<>/dev/tcp/${k_net}.254/${k_ctld_port}" 2>/dev/null && break
        sleep 0.02
    done
    for ((k = 1; k <= nodes; k++)); do
        mkdir -p "$dir/spool/slurmd-n$k"
        nsenter --net="/run/netns/kk-n$k" unshare --uts \
            sh -c "hostname n$k && exec slurmd -N n$k -f '$conf'" || {
            print_logs "$dir"
            die "slurmd n$k did not start"
        }
    done
    if ! wait_nodes "$conf" idle "$k_idle_timeout_s"; then
        SLURM_CONF=$conf sinfo -N -l >&2 || true
        print_logs "$dir"
        die "the nodes did not become idle within ${k_idle_timeout_s} s"
    fi
    printf 'export SLURM_CONF=%s\n' "$conf" >"$dir/env"
    echo "cluster.sh: ${nodes}-node cluster up in $(elapsed "$t0") s; source $dir/env"
}

check_node() {
    local dir=$1 node=$2
    [[ $node =~ ^n[0-9]+$ ]] || die "bad node name '$node'; expected n1, n2, ..."
    ip link show "kkv-$node" >/dev/null 2>&1 || die "no link kkv-$node: is the cluster in $dir up?"
}

do_cut() {
    local dir=$1 node=$2
    check_node "$dir" "$node"
    ip link set "kkv-$node" down
    ip -n "kk-$node" link set "kkp-$node" down 2>/dev/null || true
    echo "cluster.sh: $node cut off"
}

do_heal() {
    local dir=$1 node=$2 conf=$1/slurm.conf t0 state
    t0=$(now)
    check_node "$dir" "$node"
    ip -n "kk-$node" link set "kkp-$node" up 2>/dev/null || true
    ip link set "kkv-$node" up
    state=$(SLURM_CONF=$conf sinfo -h -N -p debug -n "$node" -o %T 2>/dev/null || true)
    if [[ $state == down* || $state == drain* || $state == *fail* ]]; then
        SLURM_CONF=$conf scontrol update "NodeName=$node" State=RESUME 2>/dev/null || true
    fi
    local deadline=$(($(date +%s) + k_idle_timeout_s))
    while (($(date +%s) < deadline)); do
        state=$(SLURM_CONF=$conf sinfo -h -N -p debug -n "$node" -o %T 2>/dev/null || true)
        case $state in
        idle | mixed | allocated) break ;;
        down* | drain*) SLURM_CONF=$conf scontrol update "NodeName=$node" State=RESUME \
            2>/dev/null || true ;;
        esac
        sleep 0.2
    done
    [[ $state == idle || $state == mixed || $state == allocated ]] ||
        die "$node is '$state', not back in service after ${k_idle_timeout_s} s"
    # "idle" in sinfo is not yet proof that the node takes a launch: right after a heal,
    # slurmctld's messages to the node can still time out ("Socket timed out on send/recv"), and
    # a requeued job started then fails instead of running. Wait for the event that proves it:
    # a step launched on the node ran. (Skipped when a job already holds the node: that job's
    # own launch has reached it.)
    local probes=0 probe_deadline=$(($(date +%s) + 2 * k_idle_timeout_s))
    while (($(date +%s) < probe_deadline)); do
        state=$(SLURM_CONF=$conf sinfo -h -N -p debug -n "$node" -o %T 2>/dev/null || true)
        [[ $state == idle ]] || break
        probes=$((probes + 1))
        if SLURM_CONF=$conf timeout 20 srun -p debug -w "$node" -N1 -n1 -t 1 -J kk-heal-probe \
            --quiet true >/dev/null 2>&1; then
            echo "cluster.sh: $node healed, a step ran on it (probe $probes) in $(elapsed "$t0") s"
            return 0
        fi
        SLURM_CONF=$conf scancel -n kk-heal-probe 2>/dev/null || true
        sleep 0.5
    done
    [[ $state != idle ]] ||
        die "$node is idle but no step launched on it ran within $((2 * k_idle_timeout_s)) s"
    echo "cluster.sh: $node healed ($state) in $(elapsed "$t0") s"
}

main() {
    (($# >= 1)) || {
        usage >&2
        exit 2
    }
    local cmd=$1
    shift
    case $cmd in
    -h | --help | help)
        usage
        exit 0
        ;;
    esac
    (($# >= 1)) || {
        usage >&2
        exit 2
    }
    local dir=$1
    shift
    [[ $cmd != start ]] || mkdir -p "$dir"
    [[ ! -d $dir ]] || dir=$(cd "$dir" && pwd)
    case $cmd in
    start)
        local nodes=2
        while (($#)); do
            case $1 in
            --nodes)
                (($# >= 2)) || die "--nodes needs a value"
                nodes=$2
                shift 2
                ;;
            --nodes=*)
                nodes=${1#--nodes=}
                shift
                ;;
            *) die "unknown argument '$1'" ;;
            esac
        done
        [[ $nodes =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 200)) ||
            die "--nodes must be 1..200, not '$nodes'"
        do_start "$dir" "$nodes"
        ;;
    stop)
        (($# == 0)) || die "stop takes no further arguments"
        do_stop "$dir"
        ;;
    cut | heal)
        (($# == 1)) || die "$cmd needs a NODE (n1, n2, ...)"
        "do_$cmd" "$dir" "$1"
        ;;
    status)
        [[ -r $dir/slurm.conf ]] || die "no cluster in $dir"
        SLURM_CONF=$dir/slurm.conf sinfo -N -l
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
