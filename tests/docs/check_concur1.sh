#!/bin/sh
# concur(1) describes the tool as it is: a section for every command that
# `concur help` lists, and in each command's section every option its
# --help prints (long and short forms); the page renders without a troff
# warning.
# Usage: check_concur1.sh <concur.1> <concur binary>
set -eu
page=$1
concur=$2
fail=0
bad() { echo "check_concur1: $*" >&2; fail=1; }

out=$(groff -man -ww -z -Tutf8 "$page" 2>&1) || bad "groff failed"
[ -z "$out" ] || bad "troff warnings: $out"

# The page's text with roff's escaped hyphens made plain.
text=$(sed 's/\\-/-/g' "$page")
section() {  # the lines of section "CONCUR <NAME>" up to the next .SH
    printf '%s\n' "$text" | awk -v h=".SH \"CONCUR $1\"" '
        $0 == h { on = 1; next } /^\.SH / { on = 0 } on'
}

cmds=$("$concur" help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || bad "concur help listed no commands"
for c in $cmds; do
    upper=$(printf '%s' "$c" | tr a-z A-Z)
    body=$(section "$upper")
    if [ -z "$body" ]; then
        bad "no section CONCUR $upper for the command $c"
        continue
    fi
    case $c in help|version) continue ;; esac
    opts=$("$concur" "$c" --help | grep -oE '(^|[ ,[])--?[a-zA-Z][a-zA-Z-]*' |
           sed 's/^[ ,[]//' | sort -u)
    [ -n "$opts" ] || bad "concur $c --help printed no options"
    for o in $opts; do
        printf '%s\n' "$body" | grep -qe "$o\\b" ||
            bad "concur $c: option $o is not described in concur(1)"
    done
done
[ "$fail" -eq 0 ] || exit 1
echo "ok: concur(1) describes $(echo $cmds | wc -w) commands and their options"
