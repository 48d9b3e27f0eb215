#!/usr/bin/env bash
# sanitizers: runs the test suite under ThreadSanitizer and under AddressSanitizer (with LeakSanitizer),
# each in its own build folder so the normal .build stays untouched. Usage: .ci/sanitizers.sh [thread|address]
# [extra swift test arguments, e.g. --filter PostOfficeTests]. Exits non-zero on any sanitizer report.
set -uo pipefail
cd "$(dirname "$0")/.."

kinds=("thread" "address")
if [ $# -gt 0 ] && { [ "$1" = thread ] || [ "$1" = address ]; }; then
    kinds=("$1")
    shift
fi
status=0
for kind in "${kinds[@]}"; do
    short=$([ "$kind" = thread ] && echo tsan || echo asan)
    mkdir -p ".build-${short}"
    log=".build-${short}/sanitizer.log"
    echo "== swift test --sanitize=${kind} $*"
    # halt_on_error=0 keeps going after the first report so one run lists them all.
    # RSS bounds in AbuseTests mean nothing under a sanitizer's allocator: relax them.
    POSTOFFICE_MEMORY_BOUND_MIB=4096 \
    TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 history_size=4" \
    ASAN_OPTIONS="detect_leaks=1 halt_on_error=0 detect_stack_use_after_return=1" \
    LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp print_suppressions=0" \
        swift test --sanitize="${kind}" --build-path ".build-${short}" "$@" 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    reports=$(grep -c -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$log" || true)
    echo "== ${kind}: swift test exit ${code}, ${reports} sanitizer report(s); full output in ${log}"
    if [ "$code" -ne 0 ] || [ "$reports" -ne 0 ]; then status=1; fi
done
exit $status
