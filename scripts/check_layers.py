#!/usr/bin/env python3
"""check_layers.py - the library's layering, checked from its sources.

docs/ARCHITECTURE.md promises that a layer uses only the layers before it
in CMakeLists.txt's CONCUR_LAYERS (base, core, sync, ...).  This script
checks that promise on the text of the sources, two ways:

  includes  every #include "..." in src/ and include/concur/ names a header
            of the same layer or of a lower one.  A public header
            concur/<layer>.h belongs to <layer> (another public header
            names its layer in its first comment, "(public; layer
            future)"); a header beside a layer's
            sources (src/aio/task.h) belongs to that layer and may be
            included by that layer's files only; a shared internal header
            (src/internal/x.h) belongs to the layer its first comment names
            ("(internal; layer core)"), and that claim is itself checked:
            every function the header declares must be defined in that
            layer's folder.
  calls     every call of a library function (cc_* or cc__*) in a layer's
            files goes to a function defined in the same layer or a lower
            one.  Calls through a table of function pointers (the fiber's
            and the runner's operations, an executor's ops) are how a
            lower layer reaches a higher one, by design, and are not
            calls by name.

Documented exceptions would be listed in EXCEPTIONS with the reason; there
are none.  Exit status 0 when everything holds, 1 with one line per
violation, 2 on a usage error.

  usage: scripts/check_layers.py [ROOT]       check the tree at ROOT (.)
         scripts/check_layers.py --self-test  check that violations are found
"""
import os
import re
import shutil
import sys
import tempfile

# (file, what it reaches) pairs allowed to cross a layer upwards, with why.
EXCEPTIONS = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
LAYER_TAG = re.compile(r'\(internal;[\s*]*layer[\s*]+(\w+)')
PUBLIC_TAG = re.compile(r'\(public;[\s*]*layer[\s*]+(\w+)')
# A function definition: at the start of a line, a return type, the name,
# the parameter list, then "{" on the next line (the project's style).
DEFINITION = re.compile(
    r'^(?!static\b)[A-Za-z_][\w \*]*?\b(cc_{1,2}\w+)\s*\([^;{]*\)\s*\n\{', re.M)
STATIC_DEFINITION = re.compile(
    r'^static\b[\w \*]*?\b(\w+)\s*\([^;{]*\)\s*\n\{', re.M)
ASM_LABEL = re.compile(r'^\s*(cc_{1,2}\w+):', re.M)
# A declaration in a header: a prototype ending in ';' at the top level.
DECLARATION = re.compile(
    r'^(?!static\b|#|typedef\b|\s)[A-Za-z_][\w \*]*?\b(cc_{1,2}\w+)\s*\([^;{]*\)\s*'
    r'(?:__attribute__\s*\(\(.*?\)\)\s*|CC_PRINTF\([^)]*\)\s*)*;', re.M | re.S)
CALL = re.compile(r'\b(cc_{1,2}\w+)\s*\(')


def strip_comments(text):
    """Comments and string literals replaced by blanks (lines kept)."""
    def blank(m):
        return re.sub(r'[^\n]', ' ', m.group(0))
    pattern = r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''
    return re.sub(pattern, blank, text, flags=re.S)


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def layer_order(root):
    text = read(os.path.join(root, 'CMakeLists.txt'))
    m = re.search(r'set\(CONCUR_LAYERS\s+([^)]*)\)', text)
    if not m:
        sys.exit('check_layers: no set(CONCUR_LAYERS ...) in CMakeLists.txt')
    return m.group(1).split()


class Tree:
    def __init__(self, root):
        self.root = root
        self.layers = layer_order(root)
        self.rank = {name: i for i, name in enumerate(self.layers)}
        self.errors = []
        self.nincludes = 0
        self.ncalls = 0
        self.files = {}      # relative path -> layer
        self.defined = {}    # function -> (layer, file)
        self.header_layer = {}  # include path ("internal/x.h") -> layer
        self.private = {}    # include path ("aio/task.h") -> layer
        self.statics = {}    # file -> set of its static functions

    def fail(self, msg):
        self.errors.append(msg)

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def collect(self):
        src = os.path.join(self.root, 'src')
        for layer in self.layers:
            folder = os.path.join(src, layer)
            if not os.path.isdir(folder):
                self.fail('src/%s/: a layer of CONCUR_LAYERS has no folder'
                          % layer)
                continue
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                rel = self.rel(path)
                if name.endswith(('.c', '.h', '.S')):
                    self.files[rel] = layer
                if name.endswith('.h'):
                    self.private['%s/%s' % (layer, name)] = layer
                if name.endswith('.c'):
                    text = strip_comments(read(path))
                    for fn in DEFINITION.findall(text):
                        self.defined.setdefault(fn, (layer, rel))
                    self.statics[rel] = set(STATIC_DEFINITION.findall(text))
                if name.endswith('.S'):
                    for fn in ASM_LABEL.findall(read(path)):
                        self.defined.setdefault(fn, (layer, rel))
        for name in sorted(os.listdir(src)):
            if name not in self.layers and name != 'internal' and \
                    os.path.isdir(os.path.join(src, name)):
                self.fail('src/%s/: a folder that is not a layer of '
                          'CONCUR_LAYERS' % name)
        internal = os.path.join(src, 'internal')
        for name in sorted(os.listdir(internal)):
            if not name.endswith('.h'):
                continue
            path = os.path.join(internal, name)
            rel = self.rel(path)
            m = LAYER_TAG.search(read(path)[:2000])
            if not m or m.group(1) not in self.rank:
                self.fail('%s: its first comment must name its layer, '
                          '"(internal; layer <one of %s>)"'
                          % (rel, ' '.join(self.layers)))
                continue
            self.header_layer['internal/' + name] = m.group(1)
            self.files[rel] = m.group(1)
        for name in self.layers:
            self.header_layer['concur/%s.h' % name] = name
        inc = os.path.join(self.root, 'include', 'concur')
        for name in sorted(os.listdir(inc)):
            layer = name[:-2]
            if name.endswith('.h') and layer not in self.rank:
                # a public header of a layer, named for what it holds:
                # its first comment says "(public; layer <name>)"
                m = PUBLIC_TAG.search(read(os.path.join(inc, name))[:2000])
                if m and m.group(1) in self.rank:
                    layer = m.group(1)
                    self.header_layer['concur/' + name] = layer
            if name.endswith('.h') and layer in self.rank:
                self.files[self.rel(os.path.join(inc, name))] = layer
            elif name.endswith('.h'):
                self.fail('include/concur/%s: a public header that names no '
                          'layer' % name)

    def check_header_claims(self):
        """Each internal header's functions are defined in its layer."""
        for inc, layer in sorted(self.header_layer.items()):
            if not inc.startswith('internal/'):
                continue
            path = os.path.join(self.root, 'src', inc)
            text = strip_comments(read(path))
            for fn in DECLARATION.findall(text):
                where = self.defined.get(fn)
                if where is None:
                    self.fail('src/%s: declares %s, defined nowhere in src/'
                              % (inc, fn))
                elif where[0] != layer:
                    self.fail('src/%s: says layer %s, but declares %s, '
                              'defined in %s (layer %s)'
                              % (inc, layer, fn, where[1], where[0]))

    def target_layer(self, inc):
        if inc in self.header_layer:
            return self.header_layer[inc], False
        if inc in self.private:
            return self.private[inc], True
        return None, False

    def check_includes(self):
        for rel, layer in sorted(self.files.items()):
            if rel.endswith('.S'):
                continue
            text = read(os.path.join(self.root, rel))
            for inc in INCLUDE.findall(text):
                if inc == 'concur.h':
                    self.fail('%s: includes the umbrella concur.h' % rel)
                    continue
                target, private = self.target_layer(inc)
                if target is None:
                    continue  # a header beside the file (bench, tests)
                self.nincludes += 1
                if (rel, inc) in EXCEPTIONS:
                    continue
                if private and target != layer:
                    self.fail('%s (layer %s): includes %s, private to layer '
                              '%s' % (rel, layer, inc, target))
                elif self.rank[target] > self.rank[layer]:
                    self.fail('%s (layer %s): includes %s of layer %s, above '
                              'it' % (rel, layer, inc, target))

    def check_calls(self):
        for rel, layer in sorted(self.files.items()):
            if not rel.endswith('.c'):
                continue
            text = strip_comments(read(os.path.join(self.root, rel)))
            own = self.statics.get(rel, set())
            for fn in sorted(set(CALL.findall(text))):
                if fn in own or fn not in self.defined:
                    continue
                self.ncalls += 1
                target, where = self.defined[fn]
                if (rel, fn) in EXCEPTIONS:
                    continue
                if self.rank[target] > self.rank[layer]:
                    self.fail('%s (layer %s): calls %s, defined in %s (layer '
                              '%s, above it)' % (rel, layer, fn, where,
                                                 target))

    def run(self):
        self.collect()
        self.check_header_claims()
        self.check_includes()
        self.check_calls()
        return self.errors


def check(root, quiet=False):
    tree = Tree(root)
    errors = tree.run()
    for e in errors:
        print('check_layers: ' + e)
    if not quiet:
        print('check_layers: %s; %d files, %d includes and %d functions '
              'called checked, %d violation%s'
              % (' < '.join(tree.layers), len(tree.files), tree.nincludes,
                 tree.ncalls, len(errors), '' if len(errors) == 1 else 's'))
    return 0 if not errors else 1


def self_test():
    """Plant each kind of violation in a copy of a tiny tree; each must be
    found, and the clean tree must pass."""
    def tree(files):
        root = tempfile.mkdtemp(prefix='check_layers.')
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, 'w', encoding='utf-8') as f:
                f.write(text)
        return root

    clean = {
        'CMakeLists.txt': 'set(CONCUR_LAYERS low high)\n',
        'include/concur/low.h': '/* low */\n',
        'include/concur/high.h': '#include "concur/low.h"\n',
        'src/internal/low_x.h':
            '/*\n * low_x.h - x (internal; layer low).\n */\n'
            'int cc__low_x(int a);\n',
        'src/low/x.c': '#include "internal/low_x.h"\n'
                       'int cc__low_x(int a)\n{\n    return a;\n}\n',
        'src/high/y.h': '/* private to high */\n',
        'src/high/y.c': '#include "high/y.h"\n#include "internal/low_x.h"\n'
                        'int cc_high_y(void)\n{\n    return cc__low_x(1);\n}\n',
    }
    planted = {
        'upward include': ('src/low/x.c',
                           '#include "concur/high.h"\n#include "internal/low_x.h"\n'
                           'int cc__low_x(int a)\n{\n    return a;\n}\n',
                           'includes concur/high.h of layer high'),
        'upward call': ('src/low/x.c',
                        '#include "internal/low_x.h"\n'
                        'int cc__low_x(int a)\n{\n    return cc_high_y() + a;\n}\n',
                        'calls cc_high_y'),
        'private header': ('src/low/z.c', '#include "high/y.h"\n',
                           'private to layer high'),
        'false layer claim': ('src/internal/low_x.h',
                              '/* low_x.h (internal; layer low). */\n'
                              'int cc__low_x(int a);\nint cc_high_y(void);\n',
                              'declares cc_high_y'),
        'untagged header': ('src/internal/low_x.h', '/* low_x.h */\n',
                            'must name its layer'),
        'stray folder': ('src/middle/m.c', 'int x;\n', 'not a layer'),
    }
    failures = 0
    root = tree(clean)
    if check(root, quiet=True) != 0:
        print('check_layers self-test: the clean tree fails')
        failures += 1
    shutil.rmtree(root)
    for name, (path, text, expect) in planted.items():
        files = dict(clean)
        files[path] = text
        root = tree(files)
        t = Tree(root)
        errors = t.run()
        shutil.rmtree(root)
        if not any(expect in e for e in errors):
            print('check_layers self-test: %s not found (got %s)'
                  % (name, errors))
            failures += 1
    print('check_layers self-test: %d of %d planted violations found, clean '
          'tree %s' % (len(planted) - max(0, failures), len(planted),
                       'passes' if failures == 0 else 'checked'))
    return 0 if failures == 0 else 1


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ('-h', '--help')):
        print(__doc__.strip())
        return 2
    if len(argv) == 2 and argv[1] == '--self-test':
        return self_test()
    return check(argv[1] if len(argv) == 2 else '.')


if __name__ == '__main__':
    sys.exit(main(sys.argv))
