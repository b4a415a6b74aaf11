#!/bin/sh
# tests/pkg/run.sh: the packaging: manual pages (mandoc -Tlint, sections,
# the worker page against msg.h), the systemd unit (systemd-analyze verify),
# the runit scripts, and, when dpkg-buildpackage exists or KK_PKG=1, the
# Debian package: "make deb", its contents, lintian, and the programs run
# from the unpacked package. Run from the repository root.
#
#   KK_PKG=0          skip the package build even if the tools are there
#   KK_PKG_INSTALL=1  also install the package with dpkg, check the user and
#                     directories postinst made, and purge it (root only;
#                     changes this machine: for throwaway machines)

set -u
cd "$(dirname "$0")/../.." || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kk-pkg-test.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
skip() { passed=$((passed + 1)); echo "ok - $1 # SKIP $2"; }
comment() { sed 's/^/#   /'; }
check() {	# description command...: ok when the command succeeds
	_desc=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then
		ok "$_desc"
	else
		not_ok "$_desc"
		comment <"$tmp/check.out"
	fi
}

unit=etc/systemd/kinesis-keeper@.service
pages="man/kinesis-keeper.8 man/kinesis-keeper-worker.8 man/kinesis-keeper.conf.5"

# ---- manual pages ----

# mandoc looks up .Xr references only in /usr/share/man: a reference to one
# of our own pages must name a page in man/; one to another package's page
# may be missing only when that page is not installed here either.
lint() {	# page
	mandoc -Tlint "$1" >"$tmp/lint" 2>&1
	grep -v 'outdated mandoc.db' "$tmp/lint" >"$tmp/lint.left"
	: >"$tmp/lint.bad"
	while IFS= read -r line; do
		case $line in
		*"referenced manual not found: Xr "*)
			ref=${line##*Xr }
			ref=${ref%% (*}
			name=${ref% *}
			sec=${ref#* }
			case $name in
			kinesis-keeper*)
				[ -f "man/$name.$sec" ] && continue ;;
			*)
				if ! man -w "$sec" "$name" >/dev/null 2>&1; then
					echo "# $1: $name($sec) is not installed here"
					continue
				fi ;;
			esac
			;;
		esac
		echo "$line" >>"$tmp/lint.bad"
	done <"$tmp/lint.left"
	[ ! -s "$tmp/lint.bad" ]
}
if command -v mandoc >/dev/null 2>&1; then
	for p in $pages; do
		if [ ! -f "$p" ]; then
			not_ok "$p exists"
			continue
		fi
		if lint "$p"; then
			ok "mandoc -Tlint $p"
		else
			not_ok "mandoc -Tlint $p"
			comment <"$tmp/lint.bad"
		fi
	done
else
	not_ok "mandoc is installed (apt-get install mandoc)"
fi

has_sections() {	# page section...
	p=$1
	shift
	missing=""
	for s in "$@"; do
		grep -qx "\.Sh $s" "$p" || missing="$missing \"$s\""
	done
	[ -z "$missing" ] || { echo "missing sections:$missing"; return 1; }
}
check "kinesis-keeper(8) has the operator's sections" has_sections \
    man/kinesis-keeper.8 NAME SYNOPSIS DESCRIPTION SIGNALS ENVIRONMENT \
    FILES "EXIT STATUS" EXAMPLES DIAGNOSTICS "SEE ALSO"
check "kinesis-keeper-worker(8) has its sections" has_sections \
    man/kinesis-keeper-worker.8 NAME SYNOPSIS DESCRIPTION \
    "THE SUPERVISOR CHANNEL" "FLUSH ORDER" SIGNALS FILES "EXIT STATUS" \
    "SEE ALSO"

# every option of the usage line and every variable the code reads
documents() {	# page word...
	p=$1
	shift
	missing=""
	for w in "$@"; do
		grep -q -- "$w" "$p" || missing="$missing $w"
	done
	[ -z "$missing" ] || { echo "not mentioned:$missing"; return 1; }
}
check "kinesis-keeper(8) documents every option" documents \
    man/kinesis-keeper.8 '^\.It Fl D Ar key' '^\.It Fl d$' '^\.It Fl n$' \
    '^\.It Fl V$' '^\.It Fl v$'
envs=$(grep -ho 'getenv("[A-Z_]*")\|env("[A-Z_]*")' common/*.c supervisor/*.c \
    worker/*.c 2>/dev/null | sed 's/.*("\([A-Z_]*\)")/\1/' | sort -u)
check "kinesis-keeper(8) documents the environment the code reads" \
    documents man/kinesis-keeper.8 $envs AWS_REGION AWS_DEFAULT_REGION \
    AWS_CA_BUNDLE KINESIS_KEEPER_WORKER
check "both pages give the exit codes 0, 1 and 78" sh -c '
    for p in man/kinesis-keeper.8 man/kinesis-keeper-worker.8; do
	for c in 0 1 78; do
		sed -n "/^\.Sh EXIT STATUS/,/^\.Sh /p" "$p" |
		    grep -qx "\.It $c" || { echo "$p: no $c"; exit 1; }
	done
    done'

# the channel as kinesis-keeper-worker(8) describes it is the one in msg.h
cat >"$tmp/sizes.c" <<'EOF'
#include <sys/types.h>
#include <stdio.h>
#include "msg.h"
int
main(void)
{
	printf("%zu %zu %zu %zu %d %d %d %d %d %d\n", sizeof(struct msg_hdr),
	    sizeof(struct msg_hello), sizeof(struct msg_flush),
	    sizeof(struct msg_stats), MSG_MAX_PAYLOAD, MSG_HELLO, MSG_CONFIG,
	    MSG_FLUSH, MSG_STATS, MSG_DONE);
	return 0;
}
EOF
if ${CC:-cc} -Icommon -o "$tmp/sizes" "$tmp/sizes.c" 2>"$tmp/cc.err"; then
	set -- $("$tmp/sizes")
	w=man/kinesis-keeper-worker.8
	check "kinesis-keeper-worker(8) gives msg.h's sizes and type numbers" \
	    documents "$w" "$1-byte header" "HELLO $6, CONFIG $7, FLUSH $8, STATS $9, DONE ${10}" \
	    "($5 bytes)" "Worker to supervisor, $2 bytes" \
	    "Worker to supervisor, $3 bytes" "Worker to supervisor, $4 bytes"
else
	not_ok "msg.h compiles for the size check"
	comment <"$tmp/cc.err"
fi

# what an operator needs from the pages (issue 11)
check "kinesis-keeper.8 documents status, check, -h and how they differ from -n" sh -c '
    p=man/kinesis-keeper.8
    grep -qx ".Sh COMMANDS" $p && grep -q "^.It Cm status" $p &&
    grep -q "^.It Cm check" $p && grep -qx ".It Fl h" $p &&
    grep -q "answer three different questions" $p'
check "kinesis-keeper.conf.5 gives the object format, a notification and the IAM policy" sh -c '
    p=man/kinesis-keeper.conf.5
    for f in seq sub pk ts data b64; do
	grep -qx ".It Li $f" $p || { echo "no field $f"; exit 1; }
    done
    grep -qx ".Sh NOTIFICATIONS" $p && grep -q "\"stored_bytes\":" $p &&
    for a in kinesis:GetRecords kinesis:DescribeStreamSummary s3:PutObject \
	s3:DeleteObject sns:Publish sns:GetTopicAttributes \
	cloudwatch:PutMetricData sts:AssumeRole; do
	grep -q "\"$a\"" $p || { echo "no action $a"; exit 1; }
    done'

# ---- runit ----

run=etc/runit/kinesis-keeper/run
logrun=etc/runit/kinesis-keeper/log/run
check "runit run and log/run are executable shell scripts" sh -c "
    test -x $run && test -x $logrun && sh -n $run && sh -n $logrun"
# run them with stand-ins for chpst and friends that print what they get
mkdir -p "$tmp/bin"
for c in chpst sleep install id; do
	printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit ${KK_STUB_RC:-0}\n' \
	    "$c" "$tmp/calls" >"$tmp/bin/$c"
	chmod 755 "$tmp/bin/$c"
done
: >"$tmp/calls"
PATH=$tmp/bin:$PATH sh $run >/dev/null 2>&1
check "runit run checks the config, then execs the keeper as kinesis-keeper with -d" \
    sh -c "printf '%s\\n' \
	'chpst -u kinesis-keeper:kinesis-keeper /usr/sbin/kinesis-keeper -n /etc/kinesis-keeper/orders.conf' \
	'chpst -u kinesis-keeper:kinesis-keeper /usr/sbin/kinesis-keeper -d /etc/kinesis-keeper/orders.conf' |
	diff - '$tmp/calls'"
: >"$tmp/calls"
KK_STUB_RC=78 PATH=$tmp/bin:$PATH sh $run >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 78 ] && grep -q '^sleep ' "$tmp/calls" &&
    ! grep -q ' -d /etc' "$tmp/calls"; then
	ok "runit run waits and exits 78 on a bad configuration"
else
	not_ok "runit run on a bad configuration: status $rc"
	comment <"$tmp/calls"
fi
: >"$tmp/calls"
PATH=$tmp/bin:$PATH sh $logrun >/dev/null 2>&1
check "runit log/run execs svlogd -tt as the runit log user" grep -qx \
    'chpst -u _runit-log svlogd -tt /var/log/kinesis-keeper/orders' \
    "$tmp/calls"

# ---- systemd ----

# the unit's settings that the keeper's behaviour depends on
check "the unit has the settings the keeper relies on" sh -c "
    for l in 'User=kinesis-keeper' 'Group=kinesis-keeper' 'KillMode=mixed' \
	'Restart=on-failure' 'RestartPreventExitStatus=78' \
	'StateDirectory=kinesis-keeper/%i' \
	'ExecStart=/usr/sbin/kinesis-keeper -d /etc/kinesis-keeper/%i.conf' \
	'ExecStartPre=/usr/sbin/kinesis-keeper -n /etc/kinesis-keeper/%i.conf' \
	'ExecReload=/bin/kill -HUP \$MAINPID' 'NoNewPrivileges=yes' \
	'ProtectSystem=strict' 'CapabilityBoundingSet=' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
	grep -qxF \"\$l\" $unit || { echo \"missing: \$l\"; exit 1; }
    done"

# TimeoutStopSec must outlast the keeper's own shutdown_timeout default
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' $unit)
if [ -x build/kinesis-keeper ]; then
	mkdir -p "$tmp/st"
	shutdown=$(AWS_REGION=eu-west-1 build/kinesis-keeper -nv \
	    -D state_dir="$tmp/st" etc/kinesis-keeper.conf 2>/dev/null |
	    sed -n 's/.*shutdown_timeout *= *"\{0,1\}\([0-9]*\)s.*/\1/p' |
	    head -n 1)
	if [ -n "$stop" ] && [ -n "$shutdown" ] && [ "$stop" -gt "$shutdown" ]
	then
		ok "TimeoutStopSec ($stop s) > workers.shutdown_timeout ($shutdown s)"
	else
		not_ok "TimeoutStopSec (${stop:-?}) > workers.shutdown_timeout (${shutdown:-?})"
	fi
else
	skip "TimeoutStopSec > workers.shutdown_timeout" "build/kinesis-keeper not built"
fi

# systemd-analyze verify in a root of its own: the host's units (for
# sysinit.target and the like), the unit, the programs it runs. Clean means
# no message at all: unknown settings are only warnings.
verify_unit() {	# root keeper-binary unit-file
	r=$1
	mkdir -p "$r/lib/systemd" "$r/usr/sbin" "$r/bin" "$r/etc/systemd/system"
	cp -R /lib/systemd/system "$r/lib/systemd/" 2>/dev/null
	[ -e "$r/usr/sbin/kinesis-keeper" ] || cp "$2" "$r/usr/sbin/kinesis-keeper"
	[ -e "$r/bin/kill" ] || cp "$(command -v kill)" "$r/bin/kill" 2>/dev/null ||
	    printf '#!/bin/sh\n' >"$r/bin/kill"
	chmod 755 "$r/bin/kill"
	cp "$3" "$r/etc/systemd/system/kinesis-keeper@.service"
	SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no --root="$r" \
	    kinesis-keeper@orders.service >"$tmp/verify" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$tmp/verify" ]
}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "# installing systemd for systemd-analyze"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd \
		    >/dev/null 2>&1
	fi
fi
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /lib/systemd/system ]
then
	keeper=build/kinesis-keeper
	[ -x "$keeper" ] || { keeper=$tmp/stub; printf '#!/bin/sh\n' >"$keeper";
	    chmod 755 "$keeper"; }
	if verify_unit "$tmp/root" "$keeper" "$unit"; then
		ok "systemd-analyze verify $unit"
	else
		not_ok "systemd-analyze verify $unit"
		comment <"$tmp/verify"
	fi
	# and that the check really reads the unit
	sed 's/^KillMode=mixed$/KillMode=mixed\nNoSuchSetting=1/' "$unit" \
	    >"$tmp/broken.service"
	rm -rf "$tmp/root2"
	if verify_unit "$tmp/root2" "$keeper" "$tmp/broken.service"; then
		not_ok "systemd-analyze verify notices an unknown setting"
	else
		ok "systemd-analyze verify notices an unknown setting"
	fi
else
	skip "systemd-analyze verify $unit" "no systemd-analyze on this machine"
fi

# ---- the Debian packages of the build and the tests (tests/deps.sh) ----

# The missing-package paths without touching this machine's packages: a
# name no archive has, never installed (KK_DEPS_NO_INSTALL), or only said
# (KK_DEPS_DRY_RUN).
check "every package tests/packages.txt lists for a goal is installed here" \
    env KK_DEPS_NO_INSTALL=1 sh tests/deps.sh build demo check deb
KK_DEPS_EXTRA="kk-no-such-package" KK_DEPS_NO_INSTALL=1 \
    sh tests/deps.sh demo >"$tmp/deps.out" 2>"$tmp/deps.err"
rc=$?
if [ "$rc" -eq 1 ] && [ ! -s "$tmp/deps.out" ] &&
    [ "$(wc -l <"$tmp/deps.err")" -eq 1 ] &&
    grep -q '^missing Debian packages: kk-no-such-package (' "$tmp/deps.err"
then
	ok "a missing package: exit 1 and one line naming it"
else
	not_ok "a missing package: exit 1 and one line naming it (exit $rc)"
	comment <"$tmp/deps.err"
fi
if [ "$(id -u)" -eq 0 ]; then
	KK_DEPS_EXTRA="kk-no-such-package" KK_DEPS_DRY_RUN=1 \
	    sh tests/deps.sh demo >"$tmp/deps.out" 2>&1
	if grep -qx '# dry run: apt-get update' "$tmp/deps.out" &&
	    [ "$(grep -n 'apt-get update' "$tmp/deps.out" | cut -d: -f1)" -lt \
	    "$(grep -n 'apt-get install' "$tmp/deps.out" | cut -d: -f1)" ] &&
	    grep -qx '# dry run: apt-get install -y kk-no-such-package' \
	    "$tmp/deps.out"; then
		ok "as root: apt-get update, then install of exactly the missing one"
	else
		not_ok "as root: apt-get update, then install of exactly the missing one"
		comment <"$tmp/deps.out"
	fi
else
	skip "as root: apt-get update, then install" "not root"
fi
# goals: make demo needs nothing from npm, make check does
goal_pkgs() {	# goal: the packages tests/packages.txt lists for it
	awk -v g="$1" '/^[^#]/ { for (i = 2; i <= NF; i++) if ($i == g) print $1 }' \
	    tests/packages.txt
}
goal_pkgs demo >"$tmp/demo.pkgs"
goal_pkgs check >"$tmp/check.pkgs"
check "make demo needs neither nodejs nor npm; make check needs both" sh -c "
    ! grep -qxE 'nodejs|npm' $tmp/demo.pkgs &&
    grep -qx nodejs $tmp/check.pkgs && grep -qx npm $tmp/check.pkgs &&
    grep -qx libconfig-dev $tmp/demo.pkgs"
# the order: make demo and make check stop at the packages, before any
# compiler runs (a copy of the tree without build/)
mkdir -p "$tmp/tree/tests"
cp Makefile "$tmp/tree/" && cp tests/deps.sh tests/packages.txt "$tmp/tree/tests/"
for goal in demo check; do
	KK_DEPS_EXTRA="kk-no-such-package" KK_DEPS_NO_INSTALL=1 \
	    make -C "$tmp/tree" --no-print-directory "$goal" \
	    >"$tmp/make.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ ! -e "$tmp/tree/build" ] &&
	    grep -q '^missing Debian packages: kk-no-such-package' "$tmp/make.out"
	then
		ok "make $goal checks the packages before compiling anything"
	else
		not_ok "make $goal checks the packages before compiling anything"
		comment <"$tmp/make.out"
	fi
done
rm -rf "$tmp/tree"
# tests/setup.sh and .ci/run use the list, and list no package themselves
check "tests/setup.sh, tests/demo.sh and .ci/run go through tests/deps.sh" sh -c '
    grep -q "tests/deps.sh" tests/setup.sh && grep -q "tests/deps.sh" .ci/run &&
    grep -q "tests/setup.sh demo" tests/demo.sh &&
    ! grep -q "libconfig-dev" tests/setup.sh .ci/run Makefile'

# ---- the Debian package ----

if [ "${KK_PKG:-}" = 0 ]; then
	echo "# KK_PKG=0: the package is not built"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
fi
if [ "${KK_PKG:-}" != 1 ] && ! command -v dpkg-buildpackage >/dev/null 2>&1
then
	skip "make deb" "no dpkg-buildpackage (KK_PKG=1 builds anyway)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
fi

if [ "${KK_PKG:-}" != 1 ] && [ "$(id -u)" -ne 0 ] &&
    ! command -v dh >/dev/null 2>&1; then
	skip "make deb" "no debhelper, and only root may install it (KK_PKG=1 tries anyway)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
fi

version=$(dpkg-parsechangelog -l deb/debian/changelog -S Version 2>/dev/null)
upstream=${version%-*}
touch "$tmp/stamp"
sleep 1
if KK_DEB_LINTIAN=0 make deb >"$tmp/deb.log" 2>&1; then
	ok "make deb"
else
	not_ok "make deb"
	tail -n 30 "$tmp/deb.log" | comment
	echo "$passed passed, $failed failed"
	exit 1
fi
deb=$(ls build/kinesis-keeper_"$version"_*.deb 2>/dev/null | head -n 1)
check "make deb put the .deb, .changes and .buildinfo in build/" sh -c "
    test -f '$deb' && ls build/kinesis-keeper_${version}_*.changes \
	build/kinesis-keeper_${version}_*.buildinfo"
wrote_nothing() {
	[ ! -e debian ] || { echo "debian/ at the top"; return 1; }
	find deb -newer "$tmp/stamp"
	find .. -maxdepth 1 -name 'kinesis-keeper[_-]*' -newer "$tmp/stamp"
	[ -z "$(find deb -newer "$tmp/stamp"; find .. -maxdepth 1 \
	    -name 'kinesis-keeper[_-]*' -newer "$tmp/stamp")" ]
}
check "make deb wrote nothing beside the sources" wrote_nothing

dpkg-deb -c "$deb" | awk '{ print $1, $6 }' >"$tmp/contents"
contains() {
	missing=""
	for e in "$@"; do
		grep -qxF -- "$e" "$tmp/contents" || missing="$missing $e"
	done
	[ -z "$missing" ] || { echo "missing:$missing"; return 1; }
}
check "the package holds the programs, config, unit, pages, examples" \
    contains \
    "-rwxr-xr-x ./usr/sbin/kinesis-keeper" \
    "-rwxr-xr-x ./usr/lib/kinesis-keeper/kinesis-keeper-worker" \
    "-rw-r--r-- ./etc/kinesis-keeper/example.conf" \
    "-rw-r--r-- ./lib/systemd/system/kinesis-keeper@.service" \
    "-rw-r--r-- ./usr/share/man/man8/kinesis-keeper.8.gz" \
    "-rw-r--r-- ./usr/share/man/man8/kinesis-keeper-worker.8.gz" \
    "-rw-r--r-- ./usr/share/man/man5/kinesis-keeper.conf.5.gz" \
    "-rwxr-xr-x ./usr/share/doc/kinesis-keeper/examples/runit/run" \
    "-rwxr-xr-x ./usr/share/doc/kinesis-keeper/examples/runit/log/run" \
    "-rw-r--r-- ./usr/share/doc/kinesis-keeper/copyright"
check "the package holds nothing under /usr/local or /var" sh -c \
    "! grep -E ' \\./(usr/local|var)/' '$tmp/contents'"
mkdir -p "$tmp/ctl"
dpkg-deb -e "$deb" "$tmp/ctl"
check "example.conf is a conffile" grep -qx /etc/kinesis-keeper/example.conf \
    "$tmp/ctl/conffiles"
check "Depends has adduser and the shared libraries" sh -c "
    dpkg-deb -f '$deb' Depends | tr ',' '\\n' | sed 's/^ *//; s/ .*//' |
	sort >'$tmp/deps'
    for d in adduser libc6 libcurl4 libjson-c5 libconfig9 libssl3 \\
	    libdeflate0 libzstd1 libisal2; do
	grep -qx \$d '$tmp/deps' || { echo \"no \$d\"; exit 1; }
    done"
check "postinst creates the user, /var/lib and /etc modes" sh -c "
    grep -q 'adduser --system --group' '$tmp/ctl/postinst' &&
    grep -q 'fix_perms \"\$SVC_USER:\$SVC_USER\" 0750 \"\$HOME_DIR\"' '$tmp/ctl/postinst' &&
    grep -q 'fix_perms \"root:\$SVC_USER\" 0750 \"\$CONF_DIR\"' '$tmp/ctl/postinst'"
check "postrm purge removes the state and the user" sh -c "
    grep -q 'rm -rf /var/lib/kinesis-keeper' '$tmp/ctl/postrm' &&
    grep -q 'deluser --system' '$tmp/ctl/postrm'"

if command -v lintian >/dev/null 2>&1; then
	lintian "$deb" >"$tmp/lintian" 2>&1
	grep -v 'running with root privileges' "$tmp/lintian" | comment
	if grep -q '^E: ' "$tmp/lintian"; then
		not_ok "lintian: no errors"
	else
		ok "lintian: no errors ($(grep -c '^W: ' "$tmp/lintian") warnings)"
	fi
else
	skip "lintian: no errors" "lintian is not installed"
fi

# the unpacked package runs
x=$tmp/x
dpkg-deb -x "$deb" "$x"
out=$("$x/usr/sbin/kinesis-keeper" -V 2>&1)
if [ "$out" = "kinesis-keeper $upstream" ]; then
	ok "packaged kinesis-keeper -V says $upstream"
else
	not_ok "packaged kinesis-keeper -V: \"$out\", expected \"kinesis-keeper $upstream\""
fi
mkdir -p "$tmp/state"
out=$(env -u AWS_REGION -u AWS_DEFAULT_REGION \
    KINESIS_KEEPER_WORKER="$x/usr/lib/kinesis-keeper/kinesis-keeper-worker" \
    "$x/usr/sbin/kinesis-keeper" -n -D state_dir="$tmp/state" \
    "$x/etc/kinesis-keeper/example.conf" 2>&1)
if [ "$out" = "configuration OK" ]; then
	ok "packaged kinesis-keeper -n on the packaged example.conf"
else
	not_ok "packaged kinesis-keeper -n on the packaged example.conf"
	echo "$out" | comment
fi
# the supervisor makes no network call and links no libcurl (issue 17:
# its peak RSS); the worker program runs its "check" and "verify"
check "the packaged supervisor does not link libcurl, the worker does" sh -c "
    ! ldd '$x/usr/sbin/kinesis-keeper' | grep libcurl &&
    ldd '$x/usr/lib/kinesis-keeper/kinesis-keeper-worker' | grep -q libcurl"
check "packaged kinesis-keeper check runs in the worker program (78 on a missing file)" sh -c "
    KINESIS_KEEPER_HELPER='$x/usr/lib/kinesis-keeper/kinesis-keeper-worker' \
	'$x/usr/sbin/kinesis-keeper' check '$tmp/no-such.conf' 2>'$tmp/chk.err'
    rc=\$?
    cat '$tmp/chk.err'
    [ \$rc -eq 78 ] && grep -q 'no-such.conf' '$tmp/chk.err'"
"$x/usr/lib/kinesis-keeper/kinesis-keeper-worker" -d -s shardId-000000000000 \
    -g 1 "$x/etc/kinesis-keeper/example.conf" 3</dev/null \
    >"$tmp/worker.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'started by kinesis-keeper(8)' "$tmp/worker.out"
then
	ok "packaged worker runs and refuses to start without its supervisor"
else
	not_ok "packaged worker without a supervisor: status $rc"
	comment <"$tmp/worker.out"
fi
# built with PREFIX=/usr: with no worker next to it and no
# KINESIS_KEEPER_WORKER, the keeper wants the packaged worker path
if [ -e /usr/lib/kinesis-keeper/kinesis-keeper-worker ]; then
	skip "the packaged keeper looks for /usr/lib/kinesis-keeper/kinesis-keeper-worker" \
	    "a kinesis-keeper is installed on this machine"
else
	env -u KINESIS_KEEPER_WORKER AWS_REGION=eu-west-1 \
	    "$x/usr/sbin/kinesis-keeper" -d -D state_dir="$tmp/state2" \
	    "$x/etc/kinesis-keeper/example.conf" >"$tmp/keeper.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q \
	    'worker program /usr/lib/kinesis-keeper/kinesis-keeper-worker' \
	    "$tmp/keeper.out"; then
		ok "the packaged keeper looks for /usr/lib/kinesis-keeper/kinesis-keeper-worker"
	else
		not_ok "the packaged keeper's worker path (status $rc)"
		comment <"$tmp/keeper.out"
	fi
fi

docs_shipped() {
	for doc in $(sed -n 's/^Documentation=//p' \
	    "$x/lib/systemd/system/kinesis-keeper@.service"); do
		case $doc in
		man:*)
			n=${doc#man:}
			sec=${n##*(}
			sec=${sec%)}
			n=${n%(*}
			[ -f "$x/usr/share/man/man$sec/$n.$sec.gz" ] ||
			    { echo "not in the package: $doc"; return 1; }
			;;
		esac
	done
}
check "the unit's Documentation= pages are in the package" docs_shipped

# the packaged unit, with the packaged programs
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /lib/systemd/system ]
then
	if verify_unit "$x" "$x/usr/sbin/kinesis-keeper" \
	    "$x/lib/systemd/system/kinesis-keeper@.service"; then
		ok "systemd-analyze verify on the unpacked package"
	else
		not_ok "systemd-analyze verify on the unpacked package"
		comment <"$tmp/verify"
	fi
fi

# ---- install and purge (opt-in) ----

if [ "${KK_PKG_INSTALL:-0}" = 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		skip "install and purge" "not root"
	elif dpkg -s kinesis-keeper >/dev/null 2>&1; then
		skip "install and purge" "kinesis-keeper is installed already"
	else
		check "dpkg -i" dpkg -i "$deb"
		check "postinst made the system user and group" sh -c '
		    getent passwd kinesis-keeper | grep -q ":/var/lib/kinesis-keeper:" &&
		    getent group kinesis-keeper >/dev/null'
		check "/var/lib/kinesis-keeper is kinesis-keeper 0750" sh -c '
		    test "$(stat -c "%U:%G %a" /var/lib/kinesis-keeper)" = \
			"kinesis-keeper:kinesis-keeper 750"'
		check "/etc/kinesis-keeper is root:kinesis-keeper 0750" sh -c '
		    test "$(stat -c "%U:%G %a" /etc/kinesis-keeper)" = \
			"root:kinesis-keeper 750"'
		check "the service user can check the example" runuser -u \
		    kinesis-keeper -- /usr/sbin/kinesis-keeper -n \
		    -D state_dir=/var/lib/kinesis-keeper/example \
		    /etc/kinesis-keeper/example.conf
		check "dpkg -i again (upgrade path)" dpkg -i "$deb"
		check "dpkg --purge" dpkg --purge kinesis-keeper
		check "purge removed the user, group and state" sh -c '
		    ! getent passwd kinesis-keeper && ! getent group kinesis-keeper &&
		    test ! -e /var/lib/kinesis-keeper && test ! -e /etc/kinesis-keeper'
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
