#!/usr/bin/env bash
# gluster: two PostOffice instances on one GlusterFS volume, in one command. Starts glusterd by hand (no
# systemd needed; it listens on 127.0.0.1 only), creates a replica-3 volume with an arbiter (two data bricks
# and one metadata-only brick) on this machine,
# mounts it twice through FUSE, runs gluster_pair.py (SMTP + POP3 on both instances, SIGKILLs on both, one
# brick killed mid-run) and its negative control (flock a no-op on one instance: the overlap check must fire),
# then tears everything down: unmounts, stops and deletes the volume, stops glusterd and its brick and
# self-heal processes, and removes what they added under /var/lib/glusterd, /var/run/gluster and
# /var/log/glusterfs. Needs root, /dev/fuse and Debian's glusterfs-server + glusterfs-client. Extra
# arguments go to the harness: `--quick` (30 s, 4 kills per server; run.sh --quick) or e.g.
# `.ci/reliability/gluster.sh --duration 300 --kills 40`. Runs are serialized by an flock on
# /run/lock/postoffice-gluster.lock (the empty file stays: removing it would break that exclusion).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

for tool in glusterd gluster glusterfs; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin"
  command -v "$tool" >/dev/null 2>&1 || { echo "gluster.sh: $tool not found (apt-get install glusterfs-server glusterfs-client)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "gluster.sh: needs root (glusterd, FUSE mounts)" >&2; exit 2; }
[ -c /dev/fuse ] || { echo "gluster.sh: /dev/fuse is missing" >&2; exit 2; }
# One run at a time on a machine (glusterd's port 24007 is fixed): a second run waits for the first.
exec 9>/run/lock/postoffice-gluster.lock
flock -w 900 9 || { echo "gluster.sh: another run still holds /run/lock/postoffice-gluster.lock" >&2; exit 2; }
if pgrep -x glusterd >/dev/null; then
  echo "gluster.sh: a glusterd is already running; this script starts and stops its own, so stop that one first" >&2
  exit 2
fi

# Build first: the volume and the mounts exist only while the harness runs.
swift build --product postoffice >/dev/null || { echo "gluster.sh: build failed" >&2; exit 1; }

# Bricks are named by the machine's host name (as a real peer would be), which must resolve to a loopback
# address here because glusterd listens on 127.0.0.1 only; `force` allows two bricks of one replica set on
# one host and on the root file system.
host=$(hostname)
address=$(getent hosts "$host" | awk '{print $1; exit}')
case "$address" in
  127.*) ;;
  *) echo "gluster.sh: $host resolves to '${address:-nothing}', not a loopback address (add '127.0.1.1 $host' to /etc/hosts)" >&2; exit 2 ;;
esac
volume="potest$$"
work=$(mktemp -d /tmp/po-gluster-XXXXXX)
mkdir -p "$work/bricks" "$work/a" "$work/b"
# glusterd keeps state in /var/lib/glusterd, /var/run/gluster and /var/log/glusterfs: note what is there
# now and remove only what this run adds.
state_paths="/var/lib/glusterd /var/run/gluster /var/log/glusterfs /var/run/glusterd.socket"
list_state() {
  for path in $state_paths; do
    [ -e "$path" ] || continue
    echo "$path"
    [ -d "$path" ] && ls -A "$path" | sed "s|^|$path/|"
  done
}
list_state > "$work/state-before"
status=1

teardown() {
  set +e
  umount "$work/a" 2>/dev/null || umount -l "$work/a"
  umount "$work/b" 2>/dev/null || umount -l "$work/b"
  gluster --mode=script volume stop "$volume" force >/dev/null 2>&1
  gluster --mode=script volume delete "$volume" >/dev/null 2>&1
  # The delete hook (glusterfind) runs in the background: let it finish before removing what it touches.
  for _ in $(seq 100); do pgrep -f "delete-post --volname=$volume" >/dev/null || break; sleep 0.1; done
  # Stopping glusterd does not stop the brick and self-heal processes it spawned: stop them by pid file.
  for pidfile in /var/run/gluster/vols/"$volume"/*.pid /var/run/gluster/shd/"$volume"/*.pid "$work/glusterd.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  if [ "$status" != 0 ]; then
    logs=$(mktemp -d /tmp/po-gluster-logs-XXXXXX)
    cp -r /var/log/glusterfs/. "$work/glusterd.log" "$logs/" 2>/dev/null
    echo "gluster.sh: failed; the Gluster logs are kept in $logs" >&2
  fi
  list_state | grep -vxF -f "$work/state-before" | while read -r added; do rm -rf "$added"; done
  # Log files that existed before but grew are left as they are.
  rm -rf "$work"
}
trap teardown EXIT
trap 'exit 143' TERM INT

# Debian's glusterd.vol with one line added: glusterd listens on 127.0.0.1 only, and the bricks it spawns
# inherit the address (no socket of this test is reachable from outside the machine).
sed 's|^\( *\)option transport.socket.listen-port 24007|&\n\1option transport.socket.bind-address 127.0.0.1|' \
  /etc/glusterfs/glusterd.vol > "$work/glusterd.vol"
grep -q "bind-address 127.0.0.1" "$work/glusterd.vol" || { echo "gluster.sh: unexpected /etc/glusterfs/glusterd.vol" >&2; exit 1; }
/usr/sbin/glusterd -f "$work/glusterd.vol" -p "$work/glusterd.pid" --log-file="$work/glusterd.log" \
  || { echo "gluster.sh: glusterd failed" >&2; exit 1; }
for _ in $(seq 100); do gluster --mode=script peer status >/dev/null 2>&1 && break; sleep 0.2; done
# Replica 3 with an arbiter, as Gluster recommends for anything that must survive a brick failure: with
# replica 2, killing a brick mid-write now and then left files in split-brain (reads of stale or torn data,
# deletions coming back after heal: ~1 run in 10 on 2026-12-07), a property of the volume, not of the servers.
gluster --mode=script volume create "$volume" replica 3 arbiter 1 \
  "$host:$work/bricks/b1" "$host:$work/bricks/b2" "$host:$work/bricks/b3" force || exit 1
gluster --mode=script volume start "$volume" || exit 1
mount -t glusterfs "$host:/$volume" "$work/a" || exit 1
mount -t glusterfs "$host:/$volume" "$work/b" || exit 1

python3 "$repo/.ci/reliability/gluster_pair.py" --mount-a "$work/a" --mount-b "$work/b" --volume "$volume" "$@"
status=$?
# Negative control: instance B with flock(2) made a no-op must be caught overlapping A's sessions.
python3 "$repo/.ci/reliability/gluster_pair.py" --mount-a "$work/a" --mount-b "$work/b" --negative-control \
  --duration 15 --kills 2 | tail -2 || status=1
exit $status
