#!/usr/bin/env bash
# regenerate.sh - rebuild the Maildir fixtures with the real tools: Postfix virtual(8), Dovecot's
# dovecot-lda/doveadm, and mblaze (mdeliver, mflag). Run as root from anywhere:
#     maildir-fixtures/regenerate.sh
# Output replaces maildir-fixtures/{postfix-virtual,dovecot,mblaze}/. See README.md for what is in each.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root (Postfix master, Dovecot setuid)" >&2; exit 1; }
for b in postfix postconf sendmail doveadm mdeliver mflag; do
  command -v "$b" >/dev/null || { echo "missing $b" >&2; exit 1; }
done
[ -x /usr/lib/dovecot/dovecot-lda ] || { echo "missing /usr/lib/dovecot/dovecot-lda" >&2; exit 1; }

WORK=$(mktemp -d /tmp/maildir-fixtures.XXXXXX)
chmod 755 "$WORK"
MAIL_UID=5000
MAIL_GID=5000
PFX=$WORK/postfix
cleanup() {
  [ -f "$WORK/dovecot/dovecot.conf" ] && doveadm -c "$WORK/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
  postfix -c "$PFX/etc" stop >/dev/null 2>&1 || true
  [ "${KEEP_WORK:-0}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[fixtures] %s\n' "$*"; }

# message <subject> [body]: a small RFC 5322 message with LF line ends and a fixed Date.
message() {
  printf 'From: Fixture Sender <sender@example.test>\nTo: user@example.test\nSubject: %s\n' "$1"
  printf 'Date: Tue, 14 Nov 2023 22:13:20 +0000\nMessage-ID: <%s@fixtures.example.test>\n\n' "$(echo "$1" | tr ' ' '-')"
  printf '%s\n' "${2:-Body of $1.}"
}

# ------------------------------------------------------------------ Postfix virtual(8)
log "postfix: private instance in $PFX, virtual delivery to Maildir"
mkdir -p "$PFX/etc" "$PFX/queue" "$WORK/postfix-mail"
chown "$MAIL_UID:$MAIL_GID" "$WORK/postfix-mail"
printf 'user@example.test\tuser/Maildir/\n' > "$PFX/etc/vmailbox"
cat > "$PFX/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PFX/queue
data_directory = $PFX/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PFX/maillog
maillog_file_prefixes = $PFX
myhostname = fixtures.localdomain
mydomain = localdomain
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
default_transport = error:no outbound mail
relay_transport = error:no outbound mail
local_transport = error:no local delivery
local_recipient_maps =
alias_maps =
alias_database =
smtp_dns_support_level = disabled
append_dot_mydomain = no
biff = no
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:$PFX/etc/vmailbox
virtual_mailbox_base = $WORK/postfix-mail
virtual_uid_maps = static:$MAIL_UID
virtual_gid_maps = static:$MAIL_GID
virtual_minimum_uid = 100
CF
cat > "$PFX/etc/master.cf" <<CF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
postfix -c "$PFX/etc" start >/dev/null 2>&1 || { cat "$PFX/maillog" >&2 || true; exit 1; }
for i in 1 2 3 4; do
  message "Postfix message $i" | sendmail -C "$PFX/etc" -f sender@example.test user@example.test
  sleep 1.1   # distinct seconds in the names, for a stable delivery order
done
printf 'From: sender@example.test\nSubject: Postfix no final newline\n\nlast line has no newline' \
  | sendmail -C "$PFX/etc" -f sender@example.test user@example.test
PMD=$WORK/postfix-mail/user/Maildir
for i in $(seq 1 100); do
  [ "$(ls "$PMD/new" 2>/dev/null | wc -l)" = 5 ] && break
  sleep 0.1
done
[ "$(ls "$PMD/new" | wc -l)" = 5 ] || { cat "$PFX/maillog" >&2; echo "postfix did not deliver" >&2; exit 1; }
postfix -c "$PFX/etc" stop >/dev/null 2>&1
# Flag changes by neomutt (a real mail reader, driven through a pty by `script`): message 1 read (S),
# message 2 read and flagged (FS); neomutt renames them into cur/. The others stay in new/.
cat > "$WORK/neomuttrc" <<RC
set mbox_type=Maildir
set folder=$WORK
set spoolfile=$PMD
set mark_old=no
set move=no
set quit=yes
set header_cache=""
set message_cachedir=""
RC
TERM=xterm timeout 30 script -qec "neomutt -n -F $WORK/neomuttrc -f $PMD -e 'push \"<tag-pattern>~s Postfix.message.1<enter><tag-prefix><clear-flag>N<untag-pattern>.<enter><tag-pattern>~s Postfix.message.2<enter><tag-prefix><clear-flag>N<tag-prefix><flag-message><sync-mailbox><quit>\"'" /dev/null >/dev/null 2>&1
[ "$(ls "$PMD/cur" | wc -l)" = 2 ] || { echo "neomutt did not flag 2 messages" >&2; ls -R "$PMD" >&2; exit 1; }
# tmp/: one abandoned file (a writer that died before rename) and one fresh one. git does not keep
# mtimes, so the tests set the "stale" file's mtime again after copying (see README.md).
printf 'Subject: half writt' > "$PMD/tmp/1600000000.M1P99.stale-writer"
touch -d '2020-09-13 12:26:40 UTC' "$PMD/tmp/1600000000.M1P99.stale-writer"
printf 'Subject: being written' > "$PMD/tmp/$(date +%s).M2P100.fresh-writer"

# ------------------------------------------------------------------ Dovecot dovecot-lda / doveadm
log "dovecot: dovecot-lda delivery, doveadm flags and folders, dovecot-uidlist"
DOV=$WORK/dovecot
mkdir -p "$DOV/run" "$DOV/state" "$DOV/home"
chown "$MAIL_UID:$MAIL_GID" "$DOV/home"
cat > "$DOV/dovecot.conf" <<CF
base_dir = $DOV/run
state_dir = $DOV/state
instance_name = fixtures-dovecot
protocols =
log_path = $DOV/dovecot.log
ssl = no
first_valid_uid = 100
mail_location = maildir:$DOV/home/Maildir
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$DOV/home
}
passdb {
  driver = static
  args = nopassword=y
}
CF
# A running instance (no listeners) provides the auth-userdb socket that dovecot-lda -d and doveadm -u use.
dovecot -c "$DOV/dovecot.conf"
DLDA() { /usr/lib/dovecot/dovecot-lda -c "$DOV/dovecot.conf" -d user -f sender@example.test "$@"; }
DADM() { doveadm -c "$DOV/dovecot.conf" "$@"; }
message "Dovecot message 1" | DLDA
sleep 1.1
message "Dovecot message 2" | DLDA
sleep 1.1
printf 'From: sender@example.test\nSubject: Dovecot no final newline\n\nlast line has no newline' | DLDA
sleep 1.1
printf 'From: sender@example.test\nSubject: Dovecot bare CR\n\nline one\rstill line one\nline two\r\n' | DLDA
sleep 1.1
message "Dovecot message 5" | DLDA
DADM mailbox create -u user Archive
DADM mailbox create -u user Lists.swift
message "Archived message" | DLDA -m Archive
message "List message" "Sent to a list." | DLDA -m Lists.swift
DADM flags add -u user '\Seen' mailbox INBOX uid 1
DADM flags add -u user '\Seen \Answered \Flagged' mailbox INBOX uid 2
DADM flags add -u user '\Seen' mailbox Archive uid 1
DADM mailbox status -u user 'uidnext uidvalidity' INBOX >/dev/null
DMD=$DOV/home/Maildir
doveadm -c "$DOV/dovecot.conf" stop

# ------------------------------------------------------------------ mblaze mdeliver
log "mblaze: mdeliver names (no S=), raw bytes kept as given"
MMD=$WORK/mblaze/Maildir
mkdir -p "$MMD/tmp" "$MMD/new" "$MMD/cur"
message "mblaze message 1" | mdeliver "$MMD"
printf 'From: sender@example.test\nSubject: mblaze no final newline\n\nlast line has no newline' | mdeliver "$MMD"
printf 'From: sender@example.test\nSubject: mblaze bare CR\n\nline one\rstill line one\nline two\r\n' | mdeliver "$MMD"
message "mblaze seen in cur" | mdeliver -c -X S "$MMD"
# mflag renames in place: the replied message keeps living in new/, now as new/<name>:2,R.
mflag -R "$(ls -d "$MMD"/new/* | head -n 1)" >/dev/null

# ------------------------------------------------------------------ copy out
log "copying into $HERE"
copy_maildir() { # source target
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  cp -a "$1" "$2"
  # Dovecot's binary index/cache files are not fixtures; dovecot-uidlist and dovecot-keywords are.
  find "$2" \( -name 'dovecot.index*' -o -name 'dovecot.list.index*' -o -name 'dovecot-uidvalidity*' \) -delete
  chown -R root:root "$2"
  find "$2" -type d -exec chmod 755 {} + ; find "$2" -type f -exec chmod 644 {} +
  # git keeps no empty directories: a .keep in each; the tests' copy helper skips .keep files.
  find "$2" -type d -empty -exec touch {}/.keep \;
}
copy_maildir "$PMD" "$HERE/postfix-virtual/Maildir"
copy_maildir "$DMD" "$HERE/dovecot/Maildir"
copy_maildir "$MMD" "$HERE/mblaze/Maildir"
touch -d '2020-09-13 12:26:40 UTC' "$HERE/postfix-virtual/Maildir/tmp/1600000000.M1P99.stale-writer"
find "$HERE/postfix-virtual" "$HERE/dovecot" "$HERE/mblaze" -type f | sort | sed "s|$HERE/||"
