#!/usr/bin/env bash
# run: builds the `postoffice` binary and runs every reliability harness — crash under load, the strace
# syscall-order audit, I/O fault injection and two instances on one GlusterFS volume (gluster.sh: needs
# root and /dev/fuse). `--quick` (CI) runs about ten kills and 100 messages per fault scenario and 30 s of
# the GlusterFS pair; without it the full figures are measured. Exits non-zero when any harness fails.
# Not run here (nor in CI): soak.py, an hour of mixed SMTP/POP3 load with a SIGKILL every five minutes that
# checks durability, memory drift and fd leaks — run it by hand against a release build, e.g.
#   python3 .ci/reliability/soak.py --out soak-results.json
set -uo pipefail
cd "$(dirname "$0")/../.."
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
swift build --product postoffice || exit 1
status=0
python3 .ci/reliability/crash_load.py "${quick[@]}" || status=1
python3 .ci/reliability/strace_audit.py || status=1
python3 .ci/reliability/fault_injection.py "${quick[@]}" || status=1
# Two servers on one GlusterFS volume need FUSE; a machine without /dev/fuse cannot run it at all (said loudly,
# not counted as a pass). Every other failure of the harness fails the run.
if [ -c /dev/fuse ]; then
    bash .ci/reliability/gluster.sh "${quick[@]}" || status=1
else
    echo "gluster.sh NOT RUN: this machine has no /dev/fuse (run it by hand where FUSE works)"
fi
exit $status
