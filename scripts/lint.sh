#!/usr/bin/env bash
# Lint: clang-format over every tracked C++ file (no change allowed), the NOLINT exemptions of the
# function-size rule, then clang-tidy with the curated checks of .clang-tidy over the compile
# database of build/.
#
#   scripts/lint.sh                 tidy the C++ files changed since the base (below)
#   scripts/lint.sh --all           tidy every file of the compile database (slow: LibTorch TUs
#                                   take about a minute each on two cores)
#   scripts/lint.sh FILE...         tidy these files
#   --no-format / --no-tidy         skip one part
#
# The base for "changed": $KAKUREN_LINT_BASE, else the merge base with origin/main or main,
# else HEAD~1. Exit 0 when clean, 1 with the findings. Needs clang-format-14 and clang-tidy-14
# (scripts/setup.sh installs them) and a configured build/ (it writes compile_commands.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${KAKUREN_BUILD_DIR:-build}
format=1 tidy=1 all=0
files=()
for arg in "$@"; do
    case $arg in
    --all) all=1 ;;
    --no-format) format=0 ;;
    --no-tidy) tidy=0 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "lint.sh: unknown option $arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
    esac
done
tool() { command -v "$1-14" || command -v "$1" || { echo "lint.sh: $1 not found" >&2; exit 2; }; }
jobs=$(nproc 2>/dev/null || echo 2)
status=0

if ((format)); then
    t0=$(date +%s)
    mapfile -t tracked < <(git ls-files '*.cpp' '*.hpp' '*.h')
    if ! "$(tool clang-format)" --dry-run --Werror "${tracked[@]}"; then
        echo "lint.sh: clang-format: the files above differ from .clang-format" \
            "(clang-format -i FILE fixes them)" >&2
        status=1
    fi
    echo "lint.sh: clang-format checked ${#tracked[@]} files in $(($(date +%s) - t0)) s"
fi

# The function-size rule (.clang-tidy) has one way out, for tables:
# "// NOLINT(readability-function-size): table". Any other NOLINT that would silence it (a bare
# NOLINT / NOLINTNEXTLINE / NOLINTBEGIN, a glob that covers it, or the check with another reason)
# is refused.
{
    bad_nolint=$(git grep -nE 'NOLINT(NEXTLINE|BEGIN)?([^(A-Z]|$|\(([^)]*[, ])?(readability-function-size|\*|readability-\*|readability-function-\*)[,) ])' \
        -- '*.cpp' '*.hpp' '*.h' | grep -vE 'NOLINT\(readability-function-size\): table' || true)
    if [[ -n $bad_nolint ]]; then
        printf '%s\n' "$bad_nolint" >&2
        echo "lint.sh: only a table may opt out of readability-function-size, with" \
            "'// NOLINT(readability-function-size): table'; split the functions above instead" >&2
        status=1
    fi
}

if ((tidy)); then
    db=$build/compile_commands.json
    [[ -f $db ]] || { echo "lint.sh: no $db: configure the build first (scripts/setup.sh)" >&2; exit 2; }
    # The translation units of the database (absolute paths), to pick from.
    mapfile -t units < <(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1])): print(e["file"])' "$db" | sort -u)
    if ((all)); then
        files=("${units[@]}")
    elif ((${#files[@]} == 0)); then
        base=${KAKUREN_LINT_BASE:-}
        if [[ -z $base ]]; then
            for ref in origin/main main; do
                if git rev-parse -q --verify "$ref" >/dev/null &&
                    [[ $(git rev-parse "$ref") != $(git rev-parse HEAD) ]]; then
                    base=$(git merge-base "$ref" HEAD)
                    break
                fi
            done
        fi
        base=${base:-HEAD~1}
        # A changed header stands for the .cpp files of its folder that include it.
        mapfile -t changed < <(git diff --name-only --diff-filter=d "$base" -- '*.cpp' '*.hpp')
        for f in "${changed[@]}"; do
            case $f in
            *.cpp) files+=("$root/$f") ;;
            *.hpp) while IFS= read -r user; do files+=("$root/$user"); done < <(
                git grep -l "#include \"${f#tests/}\"" -- '*.cpp' || true) ;;
            esac
        done
        echo "lint.sh: clang-tidy on the files changed since $(git rev-parse --short "$base")"
    fi
    # Only files the database compiles (a file of a target not built here is skipped).
    selected=()
    for f in "${files[@]}"; do
        f=$(realpath -m "$f")
        for u in "${units[@]}"; do
            if [[ $u == "$f" ]]; then selected+=("$f"); break; fi
        done
    done
    mapfile -t selected < <(printf '%s\n' "${selected[@]}" | sort -u | sed '/^$/d')
    t0=$(date +%s)
    if ((${#selected[@]})); then
        out=$(mktemp)
        # GCC-only warning flags in the database are not clang's business. clang-tidy's own
        # exit code is not used: clang 14 cannot compile some of GCC 12's library headers
        # (<ranges> views, <source_location>), which it reports as clang-diagnostic-error;
        # those files are still checked as far as clang gets. Only the curated checks fail.
        printf '%s\n' "${selected[@]}" | xargs -P "$jobs" -n 1 \
            "$(tool clang-tidy)" -p "$build" --quiet --extra-arg=-Wno-unknown-warning-option \
            >"$out" 2>&1 || true
        curated='\[((bugprone|performance|modernize)-[a-z0-9.-]+|readability-function-size)(,-warnings-as-errors)?\]$'
        if grep -qE "$curated" "$out"; then
            grep -E "$curated" -A2 "$out" | sed 's/,-warnings-as-errors//' >&2
            echo "lint.sh: clang-tidy: $(grep -cE "$curated" "$out") finding(s) of the" \
                "checks in .clang-tidy" >&2
            status=1
        fi
        incomplete=$(grep -cE "\[clang-diagnostic-error\]$" "$out" || true)
        if ((incomplete)); then
            echo "lint.sh: note: clang could not compile $incomplete construct(s) of GCC's" \
                "headers (clang-diagnostic-error); the rest was checked"
        fi
        rm -f "$out"
    fi
    echo "lint.sh: clang-tidy checked ${#selected[@]} files in $(($(date +%s) - t0)) s"
fi
exit "$status"
