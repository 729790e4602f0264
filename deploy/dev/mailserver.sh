#!/usr/bin/env bash
# Private loopback mail server (Dovecot + Postfix) for mesayuda development and tests.
#
#   mailserver.sh install
#   mailserver.sh start DIR [--smtp-port N] [--imap-port N] [--imaps-port N] [--smtps-port N]
#                           [--oauth2-token TOKEN] [--defer-recipient ADDRESS]
#   mailserver.sh stop DIR
#   mailserver.sh stop-smtp DIR | start-smtp DIR     (Postfix only)
#   mailserver.sh stop-imap DIR | start-imap DIR     (Dovecot only)
#   mailserver.sh status DIR
#
# Everything an instance owns (config, TLS files, sockets, pid files, queue, mailboxes, logs)
# lives in DIR, so several instances with different DIRs and ports can run side by side and
# the system's /etc/dovecot and /etc/postfix configuration is never used.
#
# What an instance offers (all on 127.0.0.1):
#   SMTP  (default 2525): no auth, optional STARTTLS, accepts mail for any @example.test
#                         address, refuses relaying to other domains.
#   IMAP  (default 1143): plaintext login allowed, STARTTLS offered.
#   IMAPS (default 1993): implicit TLS.
#   SMTPS (only with --smtps-port): implicit TLS (RFC 8314 "submissions"), same rules as SMTP.
#   With --oauth2-token TOKEN, IMAP and SMTP (SASL through Dovecot) also offer XOAUTH2 and
#   OAUTHBEARER, accepting TOKEN as the bearer token of any user (a stand-in for an OAuth2
#   provider's introspection), and SMTP accepts AUTH.
#   With --defer-recipient ADDRESS, SMTP answers "450 4.2.0" to RCPT TO:<ADDRESS> for as long
#   as the instance runs (a mailbox that is temporarily unavailable), and accepts every other.
#   Any user@example.test logs in with password "secret"; user+tag@example.test is delivered
#   to user's INBOX. Clients trust DIR/tls/cert.pem (a private CA that signed the server
#   certificate for IP:127.0.0.1, DNS:localhost and DNS:mail.example.test).
set -euo pipefail

# Postfix and Dovecot live in sbin, which non-login root shells do not always have in PATH.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

PROG=${0##*/}
PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-lmtpd openssl)
DOMAIN=example.test
MAIL_HOSTNAME=mail.example.test
PASSWORD=secret
DEFAULT_SMTP_PORT=2525
DEFAULT_IMAP_PORT=1143
DEFAULT_IMAPS_PORT=1993
# Unix socket paths are limited to 107 bytes and the deepest ones sit about 40 bytes below DIR.
MAX_DIR_LEN=64
# Readiness and shutdown are polled in short steps so tests do not pay fixed sleeps.
POLL_STEP=0.02
START_TIMEOUT_STEPS=500   # 10 s
STOP_TIMEOUT_STEPS=250    # 5 s, then SIGKILL

# Services to stop when a start fails halfway, so a failed start leaves nothing running.
CLEANUP_ON_FAIL=()

die() {
    echo "$PROG: error: $*" >&2
    if ((${#CLEANUP_ON_FAIL[@]})); then
        stop_services "${CLEANUP_ON_FAIL[@]}"
    fi
    exit 1
}

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need_root() {
    [[ $EUID -eq 0 ]] || die "must run as root (Postfix and Dovecot start as root and drop privileges)"
}

# ---------------------------------------------------------------------------------------------
# install

missing_packages() {
    local installed p
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null |
        awk '$2 == "installed" { print $1 }') || true
    for p in "${PACKAGES[@]}"; do
        [[ $'\n'$installed$'\n' == *$'\n'$p$'\n'* ]] || echo "$p"
    done
}

# A quick existence check for 'start', where asking dpkg would cost ~40 ms every time.
binaries_present() {
    local f
    for f in /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/lmtp /usr/sbin/postfix \
        /usr/lib/postfix/sbin/master /usr/bin/openssl; do
        [[ -x $f ]] || return 1
    done
}

cmd_install() {
    local missing log
    missing=$(missing_packages)
    [[ -z $missing ]] && return 0
    need_root

    # Parallel test processes on a fresh machine all arrive here at once; one apt run is enough
    # and concurrent ones would only fight over the dpkg lock.
    local lock_dir=/run/lock
    [[ -d $lock_dir && -w $lock_dir ]] || lock_dir=/tmp
    exec 8>"$lock_dir/mesayuda-mailserver-install.lock"
    flock -w 900 8 || die "timed out waiting for another mailserver.sh install"
    missing=$(missing_packages)
    if [[ -z $missing ]]; then
        exec 8>&-
        return 0
    fi

    # shellcheck disable=SC2086 # $missing is a whitespace-separated package list
    echo "$PROG: installing" $missing "with apt-get (one-time, about 20 s)" >&2
    log=$(mktemp /tmp/mesayuda-mailserver-install.XXXXXX)
    # Without the preseed the postfix package asks which setup to create; we want none, since
    # each instance brings its own configuration.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    local apt=(apt-get -q -y -o DPkg::Lock::Timeout=600 --no-install-recommends)
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install $missing >"$log" 2>&1; then
        # Stale or empty package lists are the usual cause on a fresh container: refresh once.
        # shellcheck disable=SC2086
        if ! { DEBIAN_FRONTEND=noninteractive "${apt[@]}" update &&
               DEBIAN_FRONTEND=noninteractive "${apt[@]}" install $missing; } >>"$log" 2>&1; then
            tail -n 30 "$log" >&2
            die "apt-get install failed (full log: $log)"
        fi
    fi
    rm -f "$log"
    exec 8>&-
    missing=$(missing_packages)
    [[ -z $missing ]] || die "packages still missing after apt-get install: $missing"
}

# ---------------------------------------------------------------------------------------------
# instance layout

# Sets DIR and every path derived from it. Only characters that need no quoting in Postfix and
# Dovecot configuration files are accepted, which also keeps this script's heredocs safe.
set_dir() {
    local arg=$1 create=$2
    [[ -n $arg ]] || die "missing DIR argument"
    # Validated before anything is created, so a rejected DIR leaves nothing behind.
    DIR=$(realpath -m -- "$arg")
    [[ $DIR =~ ^/[A-Za-z0-9._+/-]+$ ]] ||
        die "DIR '$DIR' may only contain letters, digits and . _ + - /"
    ((${#DIR} <= MAX_DIR_LEN)) ||
        die "DIR '$DIR' is ${#DIR} characters long; use at most $MAX_DIR_LEN (unix socket paths are limited to 107 bytes)"
    if [[ $create == yes ]]; then
        mkdir -p -- "$DIR" || die "cannot create $DIR"
    fi
    [[ -d $DIR ]] || die "$DIR is not a directory (did you run 'start' first?)"

    DOVECOT_CONF=$DIR/dovecot.conf
    DOVECOT_RUN=$DIR/run/dovecot
    DOVECOT_PIDFILE=$DOVECOT_RUN/master.pid
    LMTP_SOCKET=$DOVECOT_RUN/lmtp
    POSTFIX_CONF=$DIR/postfix
    POSTFIX_QUEUE=$DIR/postfix-queue
    POSTFIX_PIDFILE=$POSTFIX_QUEUE/pid/master.pid
    TLS_DIR=$DIR/tls
    LOG_DIR=$DIR/log
    PORTS_FILE=$DIR/ports.env
    # Instance names show up in process titles and log tags; derive them from DIR so that
    # parallel instances can be told apart and never clash.
    INSTANCE_ID=$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)
}

# Serializes commands on the same DIR (e.g. a test's start racing its own cleanup).
lock_dir() {
    exec 9>"$DIR/.lock"
    flock -w 60 9 || die "timed out waiting for another mailserver.sh command on $DIR"
}

load_ports() {
    [[ -f $PORTS_FILE && -f $DOVECOT_CONF && -f $POSTFIX_CONF/main.cf ]] ||
        die "no configuration in $DIR: run '$PROG start $DIR' first"
    SMTPS_PORT=""
    # shellcheck source=/dev/null
    . "$PORTS_FILE"
}

# ---------------------------------------------------------------------------------------------
# process helpers

# Prints the master pid of this DIR's Dovecot/Postfix if it runs. Both masters chdir into a
# directory of this instance, so the cwd check rules out a recycled pid from a stale pid file.
dovecot_pid() {
    local pid
    [[ -r $DOVECOT_PIDFILE ]] || return 1
    pid=$(tr -dc '0-9' <"$DOVECOT_PIDFILE")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$DOVECOT_RUN" ]] || return 1
    echo "$pid"
}

postfix_pid() {
    local pid
    [[ -r $POSTFIX_PIDFILE ]] || return 1
    pid=$(tr -dc '0-9' <"$POSTFIX_PIDFILE")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$POSTFIX_QUEUE" ]] || return 1
    echo "$pid"
}

# Both masters are session leaders, so every helper process is in the process group named by
# the master pid. SIGTERM is what 'postfix stop' and 'dovecot stop' send as well; we only poll
# more finely than they do (postfix-script sleeps in whole seconds, which costs 2-3 s).
#
# Zombies do not count: once a master is gone its helpers are re-parented to PID 1, and in
# containers PID 1 may reap them only after a while (they hold no ports or files any more).
group_live_commands() {
    ps -e -o pgid=,stat=,comm= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { print $3 }'
}

# Waits until process group $1 is gone. $2 optionally names (as an extended regex) processes
# that only linger after a clean shutdown: once nothing else is left, the group is killed
# instead of waited for.
wait_group_gone() {
    local pgid=$1 lingerers=${2:-} commands i
    for ((i = 0; i < STOP_TIMEOUT_STEPS; i++)); do
        commands=$(group_live_commands "$pgid")
        [[ -z $commands ]] && return 0
        if [[ -n $lingerers ]] && ! grep -qvxE "$lingerers" <<<"$commands"; then
            kill -KILL -- "-$pgid" 2>/dev/null || true
        fi
        sleep "$POLL_STEP"
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [[ -z $(group_live_commands "$pgid") ]] && return 0
        sleep "$POLL_STEP"
    done
    echo "$PROG: warning: processes of group $pgid survived SIGKILL" >&2
}

# Stops the given services ("dovecot", "postfix") concurrently.
stop_services() {
    local svc pid
    local -A pids=()
    for svc in "$@"; do
        if pid=$("${svc}_pid"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids[$svc]=$pid
        fi
    done
    for svc in "${!pids[@]}"; do
        case $svc in
            # After SIGTERM the Dovecot master waits about 1 s for its log process (fixed
            # 100 ms polling in services_monitor_wait) although all work is done by then. The
            # anvil process runs for the master's whole life, so "only master and log left"
            # can only mean the shutdown is past the point where anything is still served.
            dovecot)
                wait_group_gone "${pids[$svc]}" 'dovecot|log'
                # A SIGKILLed master leaves its pid file; a recycled pid in it would make the
                # next start refuse with "Dovecot is already running".
                rm -f "$DOVECOT_PIDFILE"
                ;;
            *) wait_group_gone "${pids[$svc]}" ;;
        esac
    done
}

port_listening() {
    # /proc/net/tcp lists listening sockets (state 0A) without opening a connection, so polling
    # leaves no noise in the servers' logs.
    local hex
    hex=$(printf '%04X' "$1")
    grep -q "^ *[0-9]*: [0-9A-F]*:$hex [0-9A-F]*:0000 0A " /proc/net/tcp
}

# Reads the greeting of a plain-text service; proves the daemon behind the socket really works
# (e.g. imap-login loads the TLS key before greeting).
check_banner() {
    local port=$1 expect=$2 quit=$3 line=""
    { IFS= read -r -t 5 line <&7 && printf '%s\r\n' "$quit" >&7; } \
        7<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
    [[ $line == "$expect"* ]]
}

ensure_port_free() {
    local port=$1 what=$2
    ! port_listening "$port" ||
        die "port $port ($what) on 127.0.0.1 is already in use; pick another with --${what}-port"
}

show_log() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        echo "---- last lines of $f ----" >&2
        tail -n 20 "$f" >&2
    done
}

# ---------------------------------------------------------------------------------------------
# configuration

make_tls() {
    # Kept across restarts so clients that loaded cert.pem once stay valid.
    [[ -s $TLS_DIR/cert.pem && -s $TLS_DIR/server.pem && -s $TLS_DIR/server.key ]] && return 0
    mkdir -p "$TLS_DIR"
    local tmp
    tmp=$(mktemp -d "$TLS_DIR/.new.XXXXXX")
    # A CA plus a separate leaf rather than one self-signed certificate: rustls/webpki rejects
    # a CA:TRUE certificate presented as the server certificate (CaUsedAsEndEntity), and
    # OpenSSL-based clients are happy with either. EC keys are generated instantly.
    if ! {
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$tmp/ca.key" -out "$tmp/cert.pem" -days 3650 \
            -subj "/CN=mesayuda dev mail CA $INSTANCE_ID" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" &&
        printf '%s\n' \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:$MAIL_HOSTNAME" \
            "subjectKeyIdentifier=hash" \
            "authorityKeyIdentifier=keyid" >"$tmp/server.ext" &&
        openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/cert.pem" -CAkey "$tmp/ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile "$tmp/server.ext" \
            -out "$tmp/server.crt"
    } >"$tmp/openssl.log" 2>&1; then
        cat "$tmp/openssl.log" >&2
        rm -rf "$tmp"
        die "could not create the TLS certificate"
    fi
    # Servers send leaf + CA so clients that only know cert.pem can build the chain.
    cat "$tmp/server.crt" "$tmp/cert.pem" >"$tmp/server.pem"
    chmod 0600 "$tmp/ca.key" "$tmp/server.key"
    chmod 0644 "$tmp/cert.pem" "$tmp/server.pem"
    mv -f "$tmp/ca.key" "$tmp/server.key" "$tmp/server.pem" "$TLS_DIR/"
    # cert.pem last: its presence marks a complete set.
    mv -f "$tmp/cert.pem" "$TLS_DIR/cert.pem"
    rm -rf "$tmp"
}

write_dovecot_conf() {
    local dh_line="" mechanisms="plain login" token_passdb=""
    if [[ -n $OAUTH2_TOKEN ]]; then
        mechanisms="plain login xoauth2 oauthbearer"
        # The OAuth2 mechanisms verify the bearer token as a password: a second static passdb
        # is tried when the first does not match.
        token_passdb="passdb {
  driver = static
  args = password=$OAUTH2_TOKEN
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}"
    fi
    # Only needed for DHE cipher suites; the package ships one, older installs may not.
    [[ -r /usr/share/dovecot/dh.pem ]] && dh_line="ssl_dh = </usr/share/dovecot/dh.pem"
    local mail_uid
    mail_uid=$(id -u mail)
    cat >"$DOVECOT_CONF.tmp" <<EOF
# Generated by deploy/dev/mailserver.sh for a private test instance; rewritten on every start.
instance_name = mesayuda-$INSTANCE_ID
base_dir = $DOVECOT_RUN
state_dir = $DIR/state/dovecot
log_path = $LOG_DIR/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp

ssl = yes
ssl_cert = <$TLS_DIR/server.pem
ssl_key = <$TLS_DIR/server.key
$dh_line

# Tests log in with plain LOGIN over unencrypted IMAP.
disable_plaintext_auth = no
auth_mechanisms = $mechanisms
auth_username_format = %Lu
auth_verbose = yes
# A wrong password must not slow down the logins after it. Dovecot 2.3 penalizes the client IP
# for 4-15 s after a failure; login_trusted_networks does not lift that in 2.3.19 (unlike the
# documentation says), taking away the anvil socket it is kept on does (see service anvil).
# The failed login itself still takes ~0.5 s: with auth_failure_delay = 0 the reply waits for
# a fixed 500 ms flush timer instead of 2 s, and 2.3 has no setting below that.
auth_failure_delay = 0

passdb {
  driver = static
  args = password=$PASSWORD
}
$token_passdb
userdb {
  driver = static
  args = uid=mail gid=mail home=$DIR/mail/%d/%n allow_all_users=yes
}
# The "mail" system user has a uid below Dovecot's default first_valid_uid of 500.
first_valid_uid = $mail_uid
mail_location = maildir:~/Maildir
# Durability is pointless for throwaway mailboxes and fsync slows tests down.
mail_fsync = never
# Test suites open many connections as the same user from 127.0.0.1 (default limit 10).
mail_max_userip_connections = 200

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}

# user+tag@domain is delivered to user's INBOX; the +tag stays visible in the headers.
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service lmtp {
  # Postfix's lmtp client runs as user postfix.
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
    mv -f "$DOVECOT_CONF.tmp" "$DOVECOT_CONF"
}

write_postfix_conf() {
    mkdir -p "$POSTFIX_CONF"
    # Built here: the braces of Postfix's inline table would end a ${…:+…} expansion early.
    local recipient_restrictions=""
    if [[ -n ${DEFER_RECIPIENT:-} ]]; then
        recipient_restrictions=" check_recipient_access inline:{ {$DEFER_RECIPIENT = 450 4.2.0 mailbox temporarily unavailable} }"
    fi
    cat >"$POSTFIX_CONF/main.cf.tmp" <<EOF
# Generated by deploy/dev/mailserver.sh for a private test instance; rewritten on every start.
compatibility_level = 3.6
multi_instance_name = postfix-mesayuda-$INSTANCE_ID
syslog_name = postfix-mesayuda-$INSTANCE_ID
queue_directory = $POSTFIX_QUEUE
data_directory = $DIR/postfix-data
# No syslog in containers: postlogd writes this file (see "postlog" in master.cf).
maillog_file = $LOG_DIR/postfix.log
maillog_file_prefixes = $LOG_DIR
mail_owner = postfix
setgid_group = postdrop

# Fixed names and addresses: nothing may depend on DNS or on the machine's hostname.
myhostname = $MAIL_HOSTNAME
mydomain = $DOMAIN
myorigin = \$mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
biff = no
append_dot_mydomain = no

# Every @$DOMAIN address exists (an empty virtual_mailbox_maps accepts all of them) and
# goes to Dovecot over LMTP; there is no local delivery and no outbound mail at all.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:local delivery is disabled on this test server
virtual_mailbox_domains = $DOMAIN
virtual_transport = lmtp:unix:$LMTP_SOCKET
default_transport = error:outbound mail is disabled on this test server
relay_transport = error:outbound mail is disabled on this test server
relay_domains =
recipient_delimiter = +
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =$recipient_restrictions
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =

# Attachments of 30 MB grow by a third in base64.
message_size_limit = 104857600
mailbox_size_limit = 0

# Test-friendly timing: no pause after rejected commands or under load, and deferred mail
# (e.g. while Dovecot is stopped for an outage test) is retried within seconds, not minutes.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
delay_warning_time = 0

smtpd_tls_security_level = may
smtpd_tls_cert_file = $TLS_DIR/server.pem
smtpd_tls_key_file = $TLS_DIR/server.key
smtpd_tls_session_cache_database =
smtpd_tls_received_header = yes
# One line per TLS session ("TLS connection established"), so tests can see encryption was used.
smtpd_tls_loglevel = 1
smtp_tls_security_level = none
lmtp_tls_security_level = none
EOF
    if [[ -n $OAUTH2_TOKEN ]]; then
        cat >>"$POSTFIX_CONF/main.cf.tmp" <<EOF
# SASL (including XOAUTH2) through Dovecot's auth service; optional, never required.
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_RUN/auth-postfix
EOF
    fi

    # chroot off everywhere: a chroot would need copies of system files inside DIR.
    cat >"$POSTFIX_CONF/master.cf.tmp" <<EOF
# Generated by deploy/dev/mailserver.sh for a private test instance; rewritten on every start.
# service    type       private unpriv chroot wakeup maxproc command
127.0.0.1:$SMTP_PORT inet n     -      n      -      -       smtpd
pickup       unix       n       -      n      60     1       pickup
cleanup      unix       n       -      n      -      0       cleanup
qmgr         unix       n       -      n      300    1       qmgr
tlsmgr       unix       -       -      n      1000?  1       tlsmgr
rewrite      unix       -       -      n      -      -       trivial-rewrite
bounce       unix       -       -      n      -      0       bounce
defer        unix       -       -      n      -      0       bounce
trace        unix       -       -      n      -      0       bounce
verify       unix       -       -      n      -      1       verify
flush        unix       n       -      n      1000?  0       flush
proxymap     unix       -       -      n      -      -       proxymap
proxywrite   unix       -       -      n      -      1       proxymap
smtp         unix       -       -      n      -      -       smtp
relay        unix       -       -      n      -      -       smtp
showq        unix       n       -      n      -      -       showq
error        unix       -       -      n      -      -       error
retry        unix       -       -      n      -      -       error
discard      unix       -       -      n      -      -       discard
lmtp         unix       -       -      n      -      -       lmtp
anvil        unix       -       -      n      -      1       anvil
scache       unix       -       -      n      -      1       scache
postlog      unix-dgram n       -      n      -      1       postlogd
EOF
    if [[ -n $SMTPS_PORT ]]; then
        cat >>"$POSTFIX_CONF/master.cf.tmp" <<EOF
127.0.0.1:$SMTPS_PORT inet n    -      n      -      -       smtpd
  -o syslog_name=postfix-mesayuda-$INSTANCE_ID/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
EOF
    fi
    # Postfix pauses about 2 s at start when main.cf is younger than 2 s; back-date both files.
    touch -d '-1 minute' "$POSTFIX_CONF/main.cf.tmp" "$POSTFIX_CONF/master.cf.tmp"
    mv -f "$POSTFIX_CONF/main.cf.tmp" "$POSTFIX_CONF/main.cf"
    mv -f "$POSTFIX_CONF/master.cf.tmp" "$POSTFIX_CONF/master.cf"
}

check_traversable() {
    # The daemons drop to these users and then have to reach sockets, queue and mailboxes.
    local user
    for user in postfix mail dovecot; do
        setpriv --reuid="$user" --regid="$user" --clear-groups test -x "$DIR" ||
            die "user $user cannot enter $DIR: every parent directory needs mode o+x (e.g. 0755)"
    done
}

write_config() {
    chmod 0755 "$DIR"
    check_traversable
    # Postfix creates the queue's subdirectories itself, but not the queue directory.
    mkdir -p "$LOG_DIR" "$DIR/run" "$DIR/state" "$DIR/mail" "$POSTFIX_QUEUE"
    chown mail:mail "$DIR/mail"
    chmod 0700 "$DIR/mail"
    make_tls
    printf 'SMTP_PORT=%s\nIMAP_PORT=%s\nIMAPS_PORT=%s\nSMTPS_PORT=%s\n' \
        "$SMTP_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$SMTPS_PORT" >"$PORTS_FILE"
    write_dovecot_conf
    write_postfix_conf
}

# ---------------------------------------------------------------------------------------------
# start / stop of each daemon

# The daemons must not keep the caller's stdout/stderr (a test capturing our output would wait
# for EOF forever) nor our lock descriptors (the next command would wait for the lock).
launch() {
    local out=$1
    shift
    "$@" </dev/null >>"$out" 2>&1 7>&- 8>&- 9>&-
}

start_dovecot() {
    dovecot_pid >/dev/null && return 0
    ensure_port_free "$IMAP_PORT" imap
    ensure_port_free "$IMAPS_PORT" imaps
    # base_dir holds only runtime state. Starting from an empty one matters: a leftover
    # anvil-auth-penalty socket (from before the penalty was disabled, or from a killed run)
    # makes the auth process hang on "connection refused" instead of skipping the penalty.
    rm -rf "$DOVECOT_RUN"
    launch "$LOG_DIR/dovecot.out" dovecot -c "$DOVECOT_CONF" || {
        show_log "$LOG_DIR/dovecot.out" "$LOG_DIR/dovecot.log"
        die "dovecot failed to start"
    }
}

start_postfix() {
    postfix_pid >/dev/null && return 0
    ensure_port_free "$SMTP_PORT" smtp
    [[ -z $SMTPS_PORT ]] || ensure_port_free "$SMTPS_PORT" smtps
    # postfix-script's integrity checks take most of Postfix's start time (~0.17 s); they are
    # only needed the first time, when they create the queue. A master.pid shows that Postfix
    # ran on this queue before; quick-start is Postfix's own switch to skip them once.
    local quick=no
    if [[ -f $POSTFIX_PIDFILE ]]; then
        quick=yes
        touch "$POSTFIX_QUEUE/quick-start"
    fi
    if ! launch "$LOG_DIR/postfix.out" postfix -c "$POSTFIX_CONF" start; then
        if [[ $quick == yes ]] && ! postfix_pid >/dev/null &&
            launch "$LOG_DIR/postfix.out" postfix -c "$POSTFIX_CONF" start; then
            return 0
        fi
        show_log "$LOG_DIR/postfix.out" "$LOG_DIR/postfix.log"
        die "postfix failed to start"
    fi
}

wait_ready() {
    local want_dovecot=$1 want_postfix=$2 i ok
    for ((i = 0; i < START_TIMEOUT_STEPS; i++)); do
        ok=yes
        if [[ $want_dovecot == yes ]]; then
            port_listening "$IMAP_PORT" && port_listening "$IMAPS_PORT" || ok=no
        fi
        if [[ $want_postfix == yes ]]; then
            port_listening "$SMTP_PORT" || ok=no
            [[ -z $SMTPS_PORT ]] || port_listening "$SMTPS_PORT" || ok=no
        fi
        [[ $ok == yes ]] && break
        sleep "$POLL_STEP"
    done
    if [[ $want_dovecot == yes ]] && ! check_banner "$IMAP_PORT" "* OK" "a LOGOUT"; then
        show_log "$LOG_DIR/dovecot.out" "$LOG_DIR/dovecot.log"
        return 1
    fi
    if [[ $want_postfix == yes ]] && ! check_banner "$SMTP_PORT" "220" "QUIT"; then
        show_log "$LOG_DIR/postfix.out" "$LOG_DIR/postfix.log"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
    local arg_dir=""
    SMTP_PORT=$DEFAULT_SMTP_PORT
    IMAP_PORT=$DEFAULT_IMAP_PORT
    IMAPS_PORT=$DEFAULT_IMAPS_PORT
    SMTPS_PORT=""
    OAUTH2_TOKEN=""
    DEFER_RECIPIENT=""
    while (($#)); do
        case $1 in
            --smtp-port) SMTP_PORT=${2:-}; shift 2 || usage ;;
            --imap-port) IMAP_PORT=${2:-}; shift 2 || usage ;;
            --imaps-port) IMAPS_PORT=${2:-}; shift 2 || usage ;;
            --smtps-port) SMTPS_PORT=${2:-}; shift 2 || usage ;;
            --oauth2-token) OAUTH2_TOKEN=${2:-}; shift 2 || usage ;;
            --defer-recipient) DEFER_RECIPIENT=${2:-}; shift 2 || usage ;;
            --smtps-port=*) SMTPS_PORT=${1#*=}; shift ;;
            --smtp-port=*) SMTP_PORT=${1#*=}; shift ;;
            --imap-port=*) IMAP_PORT=${1#*=}; shift ;;
            --imaps-port=*) IMAPS_PORT=${1#*=}; shift ;;
            -*) usage ;;
            *) [[ -z $arg_dir ]] || usage; arg_dir=$1; shift ;;
        esac
    done
    local p
    for p in "$SMTP_PORT" "$IMAP_PORT" "$IMAPS_PORT"; do
        if [[ ! $p =~ ^[0-9]{1,5}$ ]] || ((10#$p < 1 || 10#$p > 65535)); then
            die "invalid port '$p'"
        fi
    done
    [[ $SMTP_PORT != "$IMAP_PORT" && $SMTP_PORT != "$IMAPS_PORT" && $IMAP_PORT != "$IMAPS_PORT" ]] ||
        die "the three ports must differ"
    [[ $OAUTH2_TOKEN =~ ^[A-Za-z0-9._~+/=-]*$ ]] ||
        die "the OAuth2 token may only contain letters, digits and . _ ~ + / = -"
    [[ $DEFER_RECIPIENT =~ ^([A-Za-z0-9._+-]+@[A-Za-z0-9.-]+)?$ ]] ||
        die "--defer-recipient takes a plain address (letters, digits and . _ + - @)"
    if [[ -n $SMTPS_PORT ]]; then
        if [[ ! $SMTPS_PORT =~ ^[0-9]{1,5}$ ]] || ((10#$SMTPS_PORT < 1 || 10#$SMTPS_PORT > 65535)); then
            die "invalid port '$SMTPS_PORT'"
        fi
        [[ $SMTPS_PORT != "$SMTP_PORT" && $SMTPS_PORT != "$IMAP_PORT" && $SMTPS_PORT != "$IMAPS_PORT" ]] ||
            die "the SMTPS port must differ from the others"
    fi
    need_root
    binaries_present || cmd_install
    set_dir "$arg_dir" yes
    lock_dir
    # A restart may change ports, so always begin from a clean slate.
    stop_services postfix dovecot
    write_config
    CLEANUP_ON_FAIL=(postfix dovecot)
    start_dovecot
    start_postfix
    if ! wait_ready yes yes; then
        die "mail server in $DIR did not become ready (logs in $LOG_DIR)"
    fi
    echo "mail server up: smtp 127.0.0.1:$SMTP_PORT${SMTPS_PORT:+ smtps 127.0.0.1:$SMTPS_PORT} imap 127.0.0.1:$IMAP_PORT imaps 127.0.0.1:$IMAPS_PORT ca $TLS_DIR/cert.pem"
}

cmd_start_one() {
    local which=$1
    need_root
    set_dir "${2:-}" no
    lock_dir
    load_ports
    case $which in
        imap)
            dovecot_pid >/dev/null && return 0
            CLEANUP_ON_FAIL=(dovecot)
            start_dovecot
            wait_ready yes no || die "dovecot did not become ready"
            # Mail deferred while Dovecot was down should arrive now, not at the next retry.
            if postfix_pid >/dev/null; then
                launch "$LOG_DIR/postfix.out" postqueue -c "$POSTFIX_CONF" -f || true
            fi
            ;;
        smtp)
            postfix_pid >/dev/null && return 0
            CLEANUP_ON_FAIL=(postfix)
            start_postfix
            wait_ready no yes || die "postfix did not become ready"
            ;;
    esac
}

cmd_stop() {
    local which=$1
    need_root
    # Stopping something that was never started is not an error.
    [[ -n ${2:-} && -d $2 ]] || return 0
    set_dir "$2" no
    lock_dir
    case $which in
        all) stop_services postfix dovecot ;;
        imap) stop_services dovecot ;;
        smtp) stop_services postfix ;;
    esac
}

cmd_status() {
    set_dir "${1:-}" no
    local rc=0 pid
    SMTP_PORT='?' IMAP_PORT='?' IMAPS_PORT='?' SMTPS_PORT=''
    # shellcheck source=/dev/null
    [[ -f $PORTS_FILE ]] && . "$PORTS_FILE"
    if pid=$(dovecot_pid); then
        echo "dovecot: running (pid $pid) imap 127.0.0.1:$IMAP_PORT imaps 127.0.0.1:$IMAPS_PORT"
    else
        echo "dovecot: stopped"
        rc=1
    fi
    if pid=$(postfix_pid); then
        echo "postfix: running (pid $pid) smtp 127.0.0.1:$SMTP_PORT${SMTPS_PORT:+ smtps 127.0.0.1:$SMTPS_PORT}"
    else
        echo "postfix: stopped"
        rc=1
    fi
    return "$rc"
}

main() {
    (($#)) || usage
    local cmd=$1
    shift
    case $cmd in
        install) (($# == 0)) || usage; cmd_install ;;
        start) cmd_start "$@" ;;
        stop) (($# == 1)) || usage; cmd_stop all "$1" ;;
        stop-smtp) (($# == 1)) || usage; cmd_stop smtp "$1" ;;
        stop-imap) (($# == 1)) || usage; cmd_stop imap "$1" ;;
        start-smtp) (($# == 1)) || usage; cmd_start_one smtp "$1" ;;
        start-imap) (($# == 1)) || usage; cmd_start_one imap "$1" ;;
        status) (($# == 1)) || usage; cmd_status "$1" ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
