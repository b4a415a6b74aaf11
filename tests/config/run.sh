#!/bin/sh
# run.sh: golden configuration tests for `kinesis-keeper -n`. good/*.conf
# must print "configuration OK" and exit 0; bad/NAME.conf must print exactly
# bad/NAME.expected on stderr and exit 78. NAME.args holds extra options
# (-D overrides). Also checks the shipped example config and that the
# settings the parser accepts and kinesis-keeper.conf(5) agree.
#
# usage (from the repository root): sh tests/config/run.sh [keeper-binary]

keeper=${1:-build/kinesis-keeper}
dir=tests/config
man=man/kinesis-keeper.conf.5
example=etc/kinesis-keeper.conf

if [ ! -x "$keeper" ]; then
	echo "run.sh: $keeper: not an executable" >&2
	exit 2
fi

# Hermetic: the region must come from the files, never from this shell.
unset AWS_REGION AWS_DEFAULT_REGION AWS_CA_BUNDLE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kk-config-test.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}

not_ok() {
	failed=$((failed + 1))
	echo "not ok - $1"
}

# Indent diagnostic output as TAP comments.
comment() {
	sed 's/^/#   /'
}

# Run the check on one file with the options of its NAME.args, if any;
# those are split on blanks, never globbed.
check() {
	set -f
	if [ -f "${1%.conf}.args" ]; then
		# shellcheck disable=SC2046 # splitting is the point
		"$keeper" -n $(cat "${1%.conf}.args") "$1"
	else
		"$keeper" -n "$1"
	fi >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set +f
}

# The good files are checked as an operator keeps them: copies closed to
# others (a file with keys that others can read gets a warning, below).
mkdir "$tmp/good"
cp "$dir"/good/* "$tmp/good/"
chmod 600 "$tmp"/good/*
for f in "$tmp"/good/*.conf; do
	name=good/$(basename "$f" .conf)
	check "$f"
	printf 'configuration OK\n' >"$tmp/want"
	if [ $rc -eq 0 ] && cmp -s "$tmp/want" "$tmp/out" &&
	    [ ! -s "$tmp/err" ]; then
		ok "$name"
	else
		not_ok "$name"
		echo "# exit status $rc (want 0)"
		diff -u "$tmp/want" "$tmp/out" | comment
		comment <"$tmp/err"
	fi
done

for f in "$dir"/bad/*.conf; do
	name=bad/$(basename "$f" .conf)
	want=${f%.conf}.expected
	if [ ! -f "$want" ]; then
		not_ok "$name"
		echo "# missing $want"
		continue
	fi
	check "$f"
	if [ $rc -eq 78 ] && cmp -s "$want" "$tmp/err" &&
	    ! grep -q 'configuration OK' "$tmp/out"; then
		ok "$name"
	else
		not_ok "$name"
		echo "# exit status $rc (want 78)"
		diff -u "$want" "$tmp/err" | comment
	fi
done

# Issue 12 item 2: a file with keys that others can read is accepted with
# one warning that names it and never shows a key; closed, no warning.
secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
cp "$dir/good/full.conf" "$tmp/open.conf"
chmod 644 "$tmp/open.conf"
check "$tmp/open.conf"
if [ $rc -eq 0 ] && grep -qx 'configuration OK' "$tmp/out" &&
    [ "$(grep -c . "$tmp/err")" -eq 1 ] &&
    grep -q "$tmp/open.conf: .*readable by others" "$tmp/err" &&
    ! grep -q "$secret" "$tmp/err"; then
	ok "a file with keys readable by others: one warning, no key shown"
else
	not_ok "a file with keys readable by others: one warning, no key shown"
	echo "# exit status $rc (want 0)"
	sed "s|$secret|<secret>|g" "$tmp/err" | comment
fi

# Issue 12 item 2: the value of an unknown or secret setting given with -D
# is never printed, whatever is wrong with it.
"$keeper" -n -D "credentials.secret_acces_key=$secret" \
    "$tmp/good/minimal.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 78 ] && ! grep -q "$secret" "$tmp/err" &&
    [ "$(grep -c 'unknown setting "credentials.secret_acces_key"' \
    "$tmp/err")" -eq 1 ]; then
	ok "-D with a misspelt secret key: reported without its value"
else
	not_ok "-D with a misspelt secret key: reported without its value"
	echo "# exit status $rc (want 78)"
	sed "s|$secret|<secret>|g" "$tmp/err" | comment
fi
"$keeper" -n -D "credentials.secret_access_key=$secret" \
    "$tmp/good/minimal.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 78 ] && ! grep -q "$secret" "$tmp/err" &&
    grep -q 'secret_access_key' "$tmp/err"; then
	ok "-D with a secret key alone: the error does not show it"
else
	not_ok "-D with a secret key alone: the error does not show it"
	echo "# exit status $rc (want 78)"
	sed "s|$secret|<secret>|g" "$tmp/err" | comment
fi

# The shipped example must pass as it is, except for a state_dir that
# cannot be created on this machine.
sd=$(sed -n 's/^state_dir[ 	]*=[ 	]*"\([^"]*\)".*/\1/p' "$example")
anc=$sd
while [ -n "$anc" ] && [ ! -e "$anc" ]; do
	anc=$(dirname "$anc")
done
set --
if [ -z "$sd" ] || [ ! -d "$anc" ] || [ ! -w "$anc" ]; then
	set -- -D state_dir=/tmp
fi
"$keeper" -n "$@" "$example" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -qx 'configuration OK' "$tmp/out" &&
    [ ! -s "$tmp/err" ]; then
	ok "example $example $*"
else
	not_ok "example $example $*"
	echo "# exit status $rc (want 0)"
	comment <"$tmp/err"
fi

# Every setting the parser accepts is documented, and every documented
# setting is accepted.
if "$keeper" --list-keys >"$tmp/keys" 2>"$tmp/err" && [ -s "$tmp/keys" ]; then
	sed -n 's/^\.It Cm \([^ ]*\).*/\1/p' "$man" 2>/dev/null |
	    sort -u >"$tmp/doc"
	[ -s "$tmp/doc" ] || echo "(no .It Cm lines in $man)" >"$tmp/doc"
	sort -u "$tmp/keys" >"$tmp/accepted"
	comm -23 "$tmp/accepted" "$tmp/doc" >"$tmp/undoc"
	comm -13 "$tmp/accepted" "$tmp/doc" >"$tmp/unknown"
	if [ ! -s "$tmp/undoc" ]; then
		ok "every setting is in $man"
	else
		not_ok "every setting is in $man"
		comment <"$tmp/undoc"
	fi
	if [ ! -s "$tmp/unknown" ]; then
		ok "every setting in $man is accepted"
	else
		not_ok "every setting in $man is accepted"
		comment <"$tmp/unknown"
	fi
	# the example shows every setting, if only as a comment
	: >"$tmp/missing"
	while read -r key; do
		leaf=${key##*.}
		grep -Eq "^[# 	]*${leaf}[ 	]*=" "$example" ||
		    echo "$key" >>"$tmp/missing"
	done <"$tmp/accepted"
	if [ ! -s "$tmp/missing" ]; then
		ok "every setting is shown in $example"
	else
		not_ok "every setting is shown in $example"
		comment <"$tmp/missing"
	fi
else
	not_ok "$keeper --list-keys"
	comment <"$tmp/err"
fi

# Lint, except for what depends on the manuals installed on this machine.
if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint "$man" 2>&1 | grep -v -e 'referenced manual not found' \
	    -e 'mandoc\.db' >"$tmp/lint"
	if [ ! -s "$tmp/lint" ]; then
		ok "mandoc -Tlint $man"
	else
		not_ok "mandoc -Tlint $man"
		comment <"$tmp/lint"
	fi
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
