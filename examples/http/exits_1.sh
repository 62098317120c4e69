#!/bin/sh
# Runs a program that must end with status 1 (an error re-raised in main,
# as Python's uncaught exception ends a program) and turns that status
# into 0 and any other into 1, so check_output.sh can check its output.
# Usage: exits_1.sh <program> [args...]
"$@"
test $? -eq 1
