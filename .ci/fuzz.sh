#!/usr/bin/env bash
# Coverage-guided fuzzing of PostOffice's parsers and engines with libFuzzer (targets: Sources/fuzz-*).
#
#   .ci/fuzz.sh [-t SECONDS] [--budget TOTAL] [TARGET...]
#                                          build with -sanitize=fuzzer,address into .build-fuzz and run each
#                                          target for SECONDS (default 60), one at a time; prints a table.
#                                          With --budget, each target gets at most what is left of TOTAL
#                                          seconds (build included) shared out evenly, never under 10 s.
#   .ci/fuzz.sh --replay [TARGET...]       normal debug build; replay Tests/FuzzCorpus/<target>/ and every
#                                          Tests/FuzzCorpus/crashes/<target>-* file through each target.
#
# CI (.ci/run) does both: the replay, then a short real fuzz run of every target (`-t 25 --budget 780`).
# Exits non-zero when a target crashes or breaks an invariant; the crashing input is kept under
# .build-fuzz/crashes/<target>/ (replay it with `.build/debug/<target> FILE`). New inputs found while fuzzing
# go to .build-fuzz/corpus/<target>/ (seeded from Tests/FuzzCorpus/<target>/, which is never written to).
# Environment: FUZZ_JOBS_ARGS adds libFuzzer flags; FUZZ_MAX_LEN (default 4096); FUZZ_LINKER (default lld).
set -uo pipefail
cd "$(dirname "$0")/.."

mode=fuzz
seconds=60
budget=
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --replay) mode=replay ;;
        -t|--time) seconds="$2"; shift ;;
        --budget) budget="$2"; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1") ;;
    esac
    shift
done
if [ ${#targets[@]} -eq 0 ]; then
    for dir in Sources/fuzz-*/; do targets+=("$(basename "$dir")"); done
fi

corpus_root=Tests/FuzzCorpus
export SWIFT_BACKTRACE=enable=no
failed=0

if [ "$mode" = replay ]; then
    printf '%-22s %-8s %s\n' TARGET RESULT DETAIL
    for target in "${targets[@]}"; do
        if ! swift build --product "$target" >".build-replay-$target.log" 2>&1; then
            printf '%-22s %-8s %s\n' "$target" BUILD "see .build-replay-$target.log"; failed=1; continue
        fi
        rm -f ".build-replay-$target.log"
        binary=".build/debug/$target"
        inputs=()
        [ -d "$corpus_root/$target" ] && inputs+=("$corpus_root/$target")
        if [ ${#inputs[@]} -gt 0 ]; then
            if out=$("$binary" "${inputs[@]}" 2>&1); then
                printf '%-22s %-8s %s\n' "$target" ok "$(printf '%s\n' "$out" | tail -n 1)"
            else
                printf '%-22s %-8s %s\n' "$target" FAIL "$(printf '%s\n' "$out" | grep -E 'Fatal error|failed' | head -n 1)"
                printf '%s\n' "$out" | grep -E "^$target: " | tail -n 1
                failed=1
            fi
        fi
        # Each saved crash on its own, so one unfixed bug does not hide the others.
        for crash in "$corpus_root"/crashes/"$target"-*; do
            [ -f "$crash" ] || continue
            if out=$("$binary" "$crash" 2>&1); then
                printf '%-22s %-8s %s\n' "$target" ok "fixed: $crash"
            else
                printf '%-22s %-8s %s: %s\n' "$target" CRASH "$crash" \
                    "$(printf '%s\n' "$out" | grep -E 'Fatal error|failed' | head -n 1)"
                failed=1
            fi
        done
    done
    exit $failed
fi

linker="${FUZZ_LINKER:-lld}"
build_flags=(-c release --scratch-path .build-fuzz
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPOSTOFFICE_FUZZ -Xswiftc "-use-ld=$linker")
mkdir -p .build-fuzz/logs
# The seeds are only read: a run that changed them (a libFuzzer flag naming them as the output corpus) fails.
seeds_before=$(git status --porcelain --untracked-files=all -- "$corpus_root" 2>/dev/null)
# All products first (SwiftPM honours one --product per call; the shared modules compile once, the rest is
# one small module and a link each), so a build failure shows before any fuzzing time is spent.
build_started=$SECONDS
built=()
rows=()
for target in "${targets[@]}"; do
    log=".build-fuzz/logs/$target.build.log"
    echo "== building $target (fuzz)" >&2
    if swift build "${build_flags[@]}" --product "$target" >"$log" 2>&1; then
        built+=("$target")
    else
        rows+=("$(printf '%-22s %-8s %s' "$target" BUILD "see $log")"); failed=1
    fi
done
echo "== fuzz build took $((SECONDS - build_started))s" >&2
if [ -n "$budget" ] && [ ${#built[@]} -gt 0 ]; then
    # About 3 s per target go to libFuzzer's start-up, loading the seeds and the final stats.
    share=$(( (budget - (SECONDS - build_started) - 3 * ${#built[@]}) / ${#built[@]} ))
    [ "$share" -lt 10 ] && share=10
    if [ "$share" -lt "$seconds" ]; then
        echo "== ${budget}s budget: ${share}s per target instead of ${seconds}s" >&2
        seconds=$share
    fi
fi
bin_dir="$(swift build "${build_flags[@]}" --show-bin-path 2>/dev/null)"
for target in "${built[@]}"; do
    corpus=".build-fuzz/corpus/$target"
    # Not .build-fuzz/artifacts: SwiftPM owns that directory and empties it on the next build.
    artifacts=".build-fuzz/crashes/$target/"
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "$corpus_root/$target" ] && seeds+=("$corpus_root/$target")
    args=(-max_total_time="$seconds" -print_final_stats=1 -detect_leaks=0 -timeout=10 -rss_limit_mb=2048
        -max_len="${FUZZ_MAX_LEN:-4096}" -artifact_prefix="$artifacts")
    [ -f "$corpus_root/$target.dict" ] && args+=(-dict="$corpus_root/$target.dict")
    # shellcheck disable=SC2206
    [ -n "${FUZZ_JOBS_ARGS:-}" ] && args+=(${FUZZ_JOBS_ARGS})
    log=".build-fuzz/logs/$target.log"
    echo "== fuzzing $target for ${seconds}s" >&2
    "$bin_dir/$target" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
    status=$?
    # libFuzzer's status lines: "#123 NEW cov: 456 ft: 789 corp: ..."; final stats "stat::name: value".
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    units=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
    rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
    if [ $status -eq 0 ]; then
        result=ok
    else
        result=CRASH
        failed=1
        crash=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
        echo "!! $target failed (status $status); input: ${crash:-none}; log: $log" >&2
        grep -E 'Fatal error|Precondition failed|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" | head -n 5 >&2
        # The input itself, so a CI log alone is enough to reproduce (`base64 -d`).
        grep -E '^Base64: ' "$log" | tail -n 1 >&2
    fi
    rows+=("$(printf '%-22s %-8s %12s %8s %6s %7s %6s' "$target" "$result" "${execs:--}" "${rate:--}" \
        "${cov:--}" "${ft:--}" "${units:--}")")
done

printf '\n%-22s %-8s %12s %8s %6s %7s %6s\n' TARGET RESULT EXECS EXEC/S COV FT CORPUS
printf '%s\n' "${rows[@]}"
if [ "$(git status --porcelain --untracked-files=all -- "$corpus_root" 2>/dev/null)" != "$seeds_before" ]; then
    echo "!! fuzzing changed $corpus_root (it must only be read):" >&2
    git status --porcelain --untracked-files=all -- "$corpus_root" >&2
    failed=1
fi
exit $failed
