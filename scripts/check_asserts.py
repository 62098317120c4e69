#!/usr/bin/env python3
"""check_asserts.py - every `_locked` helper asserts the lock it needs.

The convention (docs/ARCHITECTURE.md, "Invariants in code"): an internal
function whose name ends in `_locked` must be called with a lock held, names that
lock in its comment, and checks it with CC__ASSERT before its first
statement that does anything else -- an assertion of ownership
(cc__mutex_owned, cc__lock_is_owner, cc__pmutex_owned).  This script finds
every such definition in src/ and fails on one that does not, so the rule
cannot rot as helpers are added.  It also prints how many CC__ASSERTs the
library has.

  usage: scripts/check_asserts.py [ROOT]       (ROOT: the repository, .)
         scripts/check_asserts.py --self-test
Exit status 0 when every helper asserts its lock, 1 otherwise.
"""
import os
import re
import sys
import tempfile

DEFINITION = re.compile(
    r'^[A-Za-z_][\w \*]*?\b(\w+_locked)\s*\([^;{]*\)\s*\n\{\n', re.M)
OWNERSHIP = re.compile(
    r'CC__ASSERT\(\s*(cc__mutex_owned|cc__lock_is_owner|cc__pmutex_owned)\(')
ASSERT = re.compile(r'\bCC__ASSERT\(')


def body_start(text, pos):
    """The first statements of the function whose body starts at pos: its
    declarations and the first statement after them."""
    lines = text[pos:].split('\n')
    head = []
    for line in lines[:40]:
        if line.startswith('}'):
            break
        head.append(line)
        stripped = line.strip()
        # a statement that is not a declaration ends the search, unless it
        # is the assertion itself
        if stripped and not stripped.startswith('CC__ASSERT') and \
                not re.match(r'(const |struct |unsigned |_Atomic )*[\w]+'
                             r'[\w \*]* \**\w+(\[[^]]*\])?( =.*)?[;,]?$',
                             stripped) and not stripped.startswith('/*') \
                and not stripped.startswith('*') and stripped != '':
            break
    return '\n'.join(head)


def check(root, quiet=False):
    errors = []
    helpers = 0
    asserts = 0
    src = os.path.join(root, 'src')
    for folder, _, files in sorted(os.walk(src)):
        for name in sorted(files):
            if not name.endswith(('.c', '.h')):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding='utf-8') as f:
                text = f.read()
            asserts += len(ASSERT.findall(text))
            for m in DEFINITION.finditer(text):
                if re.match(r'cc_[a-z]', m.group(1)):
                    continue  # a public call, such as cc_lock_locked()
                helpers += 1
                if not OWNERSHIP.search(body_start(text, m.end())):
                    errors.append('%s: %s() does not assert the lock it '
                                  'needs on entry' %
                                  (os.path.relpath(path, root), m.group(1)))
    if not quiet:
        for e in errors:
            print('check_asserts: ' + e)
        print('check_asserts: %d `_locked` helpers, %d without their '
              'assertion; %d CC__ASSERTs in src/'
              % (helpers, len(errors), asserts))
    return 1 if errors else 0


def self_test():
    root = tempfile.mkdtemp(prefix='check_asserts.')
    os.makedirs(os.path.join(root, 'src', 'x'))
    good = ('static int take_locked(struct t *t)\n{\n    int n = 1;\n\n'
            '    CC__ASSERT(cc__mutex_owned(&t->mu));\n    return n;\n}\n')
    bad = ('static int give_locked(struct t *t)\n{\n    t->n++;\n'
           '    CC__ASSERT(cc__mutex_owned(&t->mu));\n    return 0;\n}\n')
    path = os.path.join(root, 'src', 'x', 'a.c')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(good)
    ok = check(root, quiet=True) == 0
    with open(path, 'w', encoding='utf-8') as f:
        f.write(good + bad)
    found = check(root, quiet=True) == 1
    os.remove(path)
    os.rmdir(os.path.join(root, 'src', 'x'))
    os.rmdir(os.path.join(root, 'src'))
    os.rmdir(root)
    print('check_asserts self-test: a helper with its assertion passes: %s; '
          'one that acts before asserting is found: %s' % (ok, found))
    return 0 if ok and found else 1


if __name__ == '__main__':
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        sys.exit(self_test())
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1] in
                             ('-h', '--help')):
        print(__doc__.strip())
        sys.exit(2)
    sys.exit(check(sys.argv[1] if len(sys.argv) == 2 else '.'))
