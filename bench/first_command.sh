#!/usr/bin/env bash
# The README's first command on a fresh machine: a fresh Debian 12 root (debootstrap minbase,
# 93 packages, no compiler), a fresh clone of REV in it, then `bash scripts/run-main.sh` in a
# chroot, every output line stamped with the seconds since the command started; stops the
# training after its first epoch (Ctrl-C: a checkpoint, resumable). Prints a Markdown table of
# the phases and writes bench/out/first_command.json. Root, debootstrap and a Debian mirror are
# needed; the machine should be otherwise idle (docs/newcomers.md quotes its numbers).
#   bench/first_command.sh [REV]      (default HEAD; ~7 minutes on an idle 2-core machine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rev=$(git -C "$root" rev-parse "${1:-HEAD}")
work=${KAKUREN_BENCH_DIR:-/var/tmp/kakuren-first-command}
base=$work/debian12 jail=$work/jail log=$root/bench/out/first_command.log
[[ $EUID -eq 0 ]] || { echo "first_command.sh: run as root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "first_command.sh: apt-get install debootstrap" >&2; exit 2; }
mkdir -p "$work" "$root/bench/out"
if [[ ! -d $base ]]; then # the fresh Debian, made once and copied for each measurement
    debootstrap --variant=minbase bookworm "$base.tmp" http://deb.debian.org/debian >/dev/null
    mv "$base.tmp" "$base"
fi
unmount() { for m in proc sys dev; do umount -l "$jail/$m" 2>/dev/null || true; done; }
trap unmount EXIT
unmount
rm -rf "$jail" && cp -a "$base" "$jail"
mount -t proc proc "$jail/proc" && mount --rbind /sys "$jail/sys" && mount --rbind /dev "$jail/dev"
cp /etc/resolv.conf "$jail/etc/resolv.conf"
git clone -q "$root" "$jail/root/kakuren" && git -C "$jail/root/kakuren" checkout -q "$rev"
chroot "$jail" /bin/bash -c '
cd /root/kakuren
t0=${EPOCHREALTIME/./}
bash scripts/run-main.sh 2>&1 | while IFS= read -r l; do
  now=${EPOCHREALTIME/./}; el=$(( (now - t0) / 100000 ))
  printf "%5d.%d %s\n" $((el / 10)) $((el % 10)) "$l"
  case $l in "epoch 1/"*) pkill -INT -f "build/kakuren run" || true ;; esac
done' >"$log" 2>&1 || true
# The phases: apt until the first compile, the build until `kakuren` is linked, then training.
python3 - "$log" "$rev" "$root/bench/out/first_command.json" <<'EOF'
import json, re, sys
log, rev, out = sys.argv[1:]
lines = [l.rstrip("\n") for l in open(log, errors="replace")]
def first(pattern):
    for l in lines:
        m = re.match(r"\s*(\d+\.\d) (.*)", l)
        if m and re.search(pattern, m.group(2)):
            return float(m.group(1))
    return None
result = {"rev": rev, "apt_s": first(r"Building CXX"), "built_s": first(r"Built target kakuren$"),
          "training_starts_s": first(r"^run \S+$"), "epoch1_done_s": first(r"^epoch 1/"),
          "warnings": sum("warning:" in l for l in lines)}
if None in result.values():
    sys.exit(f"first_command.sh: the log {log} lacks a phase: {result}")
print("| apt | build | training starts | epoch 1 done | compiler warnings |\n|---|---|---|---|---|")
print(f"| {result['apt_s']:.0f} s | {result['built_s'] - result['apt_s']:.0f} s "
      f"| {result['training_starts_s'] / 60:.1f} min | {result['epoch1_done_s'] / 60:.1f} min "
      f"| {result['warnings']} |")
json.dump(result, open(out, "w"), indent=2)
EOF
