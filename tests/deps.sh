#!/bin/sh
# tests/deps.sh GOAL...: make sure the Debian packages that tests/packages.txt
# lists for these goals are installed, before anything is compiled. As root,
# "apt-get update" then "apt-get install" of the missing ones; otherwise one
# line naming them, and exit 1. A package counts as installed when a package
# of that name, or one that Provides it, is (NodeSource's nodejs provides npm).
#   KK_DEPS_FILE     the list (default tests/packages.txt)
#   KK_DEPS_EXTRA    more package names to require (tests of this script)
#   KK_DEPS_DRY_RUN  1: print the apt-get commands instead of running them
#   KK_DEPS_NO_INSTALL 1: never install, even as root (say what is missing)

set -u
cd "$(dirname "$0")/.." || exit 1
list=${KK_DEPS_FILE:-tests/packages.txt}
[ $# -gt 0 ] || set -- build
if [ ! -r "$list" ]; then
	echo "deps: $list: cannot read the package list" >&2
	exit 1
fi

want=$(awk -v goals=" $* " '
	/^[ \t]*(#|$)/ { next }
	{ for (i = 2; i <= NF; i++) if (index(goals, " " $i " ")) { print $1; break } }
' "$list")
want="$want ${KK_DEPS_EXTRA:-}"

# every installed package and every name an installed package provides
have=$(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' \
    2>/dev/null | awk -F'|' '
	$1 !~ /^ii/ { next }
	{ print $2; n = split($3, p, ","); for (i = 1; i <= n; i++) {
		sub(/^ +/, "", p[i]); sub(/[ (].*/, "", p[i]); print p[i] } }
')
missing=""
for p in $want; do
	case "
$have
" in
	*"
$p
"*) ;;
	*) case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac ;;
	esac
done
missing=${missing# }
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -ne 0 ] || [ "${KK_DEPS_NO_INSTALL:-0}" = 1 ] ||
    ! command -v apt-get >/dev/null 2>&1; then
	echo "missing Debian packages: $missing (as root: apt-get install $missing)" >&2
	exit 1
fi
echo "# installing Debian packages: $missing"
if [ "${KK_DEPS_DRY_RUN:-0}" = 1 ]; then
	echo "# dry run: apt-get update"
	echo "# dry run: apt-get install -y $missing"
	exit 0
fi
# the package lists of a fresh image are empty or stale
if ! apt-get update -qq >/dev/null 2>&1; then
	echo "missing Debian packages: $missing (apt-get update failed)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null; then
	echo "missing Debian packages: $missing (apt-get install failed)" >&2
	exit 1
fi
exit 0
