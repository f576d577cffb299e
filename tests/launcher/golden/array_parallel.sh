#!/bin/bash
# kakuren job script, written by kakuren submit. Edit the recipe, not this file.
# Slurm may run it several times (requeue): each time the run continues from its
# newest checkpoint as a new attempt of the same run.
#SBATCH --job-name=kakuren-tiny
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=1
#SBATCH --partition=debug
#SBATCH --mem=1G
#SBATCH --time=0-01:30:00
#SBATCH --signal=B:USR1@60
#SBATCH --array=0-3%2
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=/work/ws/sweeps/sweep-tiny-a/slurm-%A_%a.out
# run.threads = 0: each rank runs one thread per CPU of its task (1, SLURM_CPUS_PER_TASK).

set -u
export KAKUREN_WORKSPACE='/work/ws'
kakuren='/opt/kakuren/bin/kakuren'
case "${SLURM_ARRAY_TASK_ID:-}" in
    0) run_id='tiny-a' run_dir='/work/ws/runs/tiny-a' ;;
    1) run_id='tiny-b' run_dir='/work/ws/runs/tiny-b' ;;
    2) run_id='tiny-c' run_dir='/work/ws/runs/tiny-c' ;;
    3) run_id='tiny-d' run_dir='/work/ws/runs/tiny-d' ;;
    *) echo "kakuren: array task '${SLURM_ARRAY_TASK_ID:-}' has no run" >&2; exit 2 ;;
esac
mkdir -p "$run_dir/logs"
echo "$(date -u +%FT%TZ) kakuren job ${SLURM_JOB_ID:-local} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): run $run_id"

# The warning signal (--signal=B:USR1) and TERM reach only this shell: pass them on.
# The ranks agree on a step, checkpoint there, and the job requeues itself.
child=0
forward() { if [ "$child" -gt 0 ]; then kill -s "$1" "$child" 2>/dev/null; fi; }
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward INT' INT
if [ -n "${SLURM_JOB_ID:-}" ]; then
    srun --kill-on-bad-exit=1 --output="$run_dir/logs/rank-%t.log" --open-mode=append "$kakuren" job "$run_id" &
else
    "$kakuren" job "$run_id" --local-ranks 2 &
fi
child=$!
status=0
while true; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break  # a trapped signal ended the wait
done
wait "$child" 2>/dev/null; status=$?  # the child's own exit code
echo "$(date -u +%FT%TZ) kakuren job ranks ended with exit code $status"
exit "$status"
