"""
powerloss.py: the states a POSIX file system may leave after a power cut,
built from a snapshot of a directory taken before a run and the crash
recorder's log of that run (tests/crash/recorder.c) up to the crash.

The model (the worst a POSIX file system allows, as ALICE and CrashMonkey
use it): what was fsynced stays. File data written since the file's last
fsync may be lost in part or whole (the file keeps a prefix of those writes;
each later write is either gone, making the file shorter, or reads as
zeros). The entries of a directory created, renamed or unlinked since that
directory's last fsync are undone from some point on, each directory on its
own (a prefix of its changes survives, as a journal keeps them); a rename
inside one directory is one change, so it is done or undone whole. Temporary
files are left wherever a rename is undone.
"""

import os
import random

O_CREAT = 0o100
O_TRUNC = 0o1000


class Inode:
    __slots__ = ("ino", "kind", "durable", "pending", "entries_durable",
                 "pending_dir")

    def __init__(self, ino, kind, data=b""):
        self.ino = ino
        self.kind = kind            # "f" or "d"
        self.durable = bytes(data)  # file data as of its last fsync
        self.pending = []           # ("w", off, bytes) / ("t", length)
        self.entries_durable = {}   # dir: name -> ino as of its last fsync
        self.pending_dir = []       # dir: [(("add", name, ino)|("del", name)), ...]


def _apply_data(data, ops, zero_from=None, zero_mask=None):
    """Apply data ops to data; from index zero_from on, each op is dropped
    (mask False) or written as zeros (mask True)."""
    b = bytearray(data)
    for i, op in enumerate(ops):
        zeros = False
        if zero_from is not None and i >= zero_from:
            if not zero_mask[i - zero_from]:
                continue
            zeros = True
        if op[0] == "t":
            n = op[1]
            if n < len(b):
                del b[n:]
            else:
                b.extend(b"\0" * (n - len(b)))
        else:
            off, d = op[1], op[2]
            if zeros:
                d = b"\0" * len(d)
            if off > len(b):
                b.extend(b"\0" * (off - len(b)))
            b[off:off + len(d)] = d
    return bytes(b)


def _apply_dir(entries, ops):
    e = dict(entries)
    for op in ops:
        if op[0] == "add":
            e[op[1]] = op[2]
        elif op[0] == "del":
            e.pop(op[1], None)
        elif op[0] == "ren":       # (ren, old, new, ino): atomic in one dir
            e.pop(op[1], None)
            e[op[2]] = op[3]
    return e


class Replay:
    """Replays a recorder log over a snapshot; then state(mode, rng)
    writes one power-loss state into a directory."""

    def __init__(self, root, snapshot):
        """root: the watched directory's path as the log names it;
        snapshot: {relative path: bytes or None (a directory)}."""
        self.root = root.rstrip("/")
        self.inodes = {}
        self.next_ino = 1
        self.fds = {}
        self.changes = 0
        self.rootino = self._new("d").ino
        for rel in sorted(snapshot, key=lambda p: p.count("/")):
            data = snapshot[rel]
            parent, name = self._parent(rel)
            node = self._new("d" if data is None else "f", data or b"")
            parent.entries_durable[name] = node.ino

    def _new(self, kind, data=b""):
        n = Inode(self.next_ino, kind, data)
        self.inodes[n.ino] = n
        self.next_ino += 1
        return n

    def _entries(self, d):
        return _apply_dir(d.entries_durable, d.pending_dir)

    def _rel(self, path):
        if path == self.root:
            return ""
        if not path.startswith(self.root + "/"):
            raise ValueError("outside the root: %s" % path)
        return path[len(self.root) + 1:]

    def _lookup(self, rel):
        node = self.inodes[self.rootino]
        if rel == "":
            return node
        for part in rel.split("/"):
            if node.kind != "d":
                return None
            ino = self._entries(node).get(part)
            if ino is None:
                return None
            node = self.inodes[ino]
        return node

    def _parent(self, rel):
        head, _, name = rel.rpartition("/")
        p = self._lookup(head)
        if p is None or p.kind != "d":
            raise ValueError("no directory for %s" % rel)
        return p, name

    def feed(self, line):
        """One log line; returns the change number or 0."""
        f = line.rstrip("\n").split(" ")
        if not f or f[0] in ("proc", "crash") or len(f) < 3:
            return 0
        num = int(f[0]) if f[0].isdigit() else 0
        op, pid = f[1], f[2]
        if op == "open":
            fd, path, flags = f[3], f[4], int(f[5])
            rel = self._rel(path)
            node = self._lookup(rel)
            if node is None:
                parent, name = self._parent(rel)
                node = self._new("f")
                parent.pending_dir.append(("add", name, node.ino))
            elif flags & O_TRUNC and node.kind == "f":
                node.pending.append(("t", 0))
            self.fds[(pid, fd)] = node.ino
        elif op == "write":
            node = self.inodes[self.fds[(pid, f[3])]]
            off, n, data = int(f[4]), int(f[5]), bytes.fromhex(f[6])
            assert len(data) == n, line[:80]
            node.pending.append(("w", off, data))
        elif op == "ftruncate":
            node = self.inodes[self.fds[(pid, f[3])]]
            node.pending.append(("t", int(f[4])))
        elif op in ("fsync", "fdatasync"):
            node = self.inodes[self.fds[(pid, f[3])]]
            if len(f) > 4 and f[4] != "0":
                return num      # it failed: nothing became durable
            if node.kind == "f":
                node.durable = _apply_data(node.durable, node.pending)
                node.pending = []
            else:
                node.entries_durable = self._entries(node)
                node.pending_dir = []
        elif op in ("rename", "link"):
            a, b = self._rel(f[3]), self._rel(f[4])
            pa, na = self._parent(a)
            pb, nb = self._parent(b)
            ino = self._entries(pa)[na]
            if op == "link":
                pb.pending_dir.append(("add", nb, ino))
            elif pa is pb:
                pa.pending_dir.append(("ren", na, nb, ino))
            else:
                pb.pending_dir.append(("add", nb, ino))
                pa.pending_dir.append(("del", na))
        elif op in ("unlink", "rmdir"):
            p, n = self._parent(self._rel(f[3]))
            p.pending_dir.append(("del", n))
        elif op == "mkdir":
            p, n = self._parent(self._rel(f[3]))
            p.pending_dir.append(("add", n, self._new("d").ino))
        if num:
            self.changes = max(self.changes, num)
        return num

    # ------------------------------------------------------------ states

    def state(self, out, mode, rng=None):
        """Write one state into the empty directory out. mode: "worst"
        (only what is durable), "all" (every change applied: what a kill -9
        leaves) or "random" (rng picks, per directory and per file, how much
        of the un-fsynced part survives). Returns a short description of
        what was lost."""
        lost = []
        done = set()

        def file_data(node):
            if mode == "all" or not node.pending:
                return _apply_data(node.durable, node.pending)
            if mode == "worst":
                return node.durable
            cut = rng.randint(0, len(node.pending))
            mask = [rng.random() < 0.5 for _ in node.pending[cut:]]
            return _apply_data(node.durable, node.pending, cut, mask)

        def walk(node, path, rel):
            if node.ino in done:
                return
            done.add(node.ino)
            if mode == "all":
                ents = self._entries(node)
            elif mode == "worst":
                ents = dict(node.entries_durable)
            else:
                cut = rng.randint(0, len(node.pending_dir))
                ents = _apply_dir(node.entries_durable, node.pending_dir[:cut])
            if ents != self._entries(node):
                gone = sorted(set(self._entries(node)) - set(ents))
                back = sorted(set(ents) - set(self._entries(node)))
                lost.append("%s/: %s%s" % (
                    rel, " ".join("-" + g for g in gone),
                    " ".join("+" + b for b in back)))
            for name, ino in sorted(ents.items()):
                child = self.inodes[ino]
                p = os.path.join(path, name)
                r = (rel + "/" + name) if rel else name
                if child.kind == "d":
                    os.mkdir(p, 0o750)
                    walk(child, p, r)
                else:
                    data = file_data(child)
                    full = _apply_data(child.durable, child.pending)
                    if data != full:
                        lost.append("%s: %d of %d bytes%s" % (
                            r, len(data), len(full),
                            " (zeros)" if b"\0" in data and data.strip(b"\0") != data else ""))
                    with open(p, "wb") as fh:
                        fh.write(data)
        walk(self.inodes[self.rootino], out, "")
        return lost


def snapshot(path):
    """{relative path: bytes or None} of a directory tree."""
    snap = {}
    for dp, dns, fns in os.walk(path):
        rel = os.path.relpath(dp, path)
        for d in dns:
            snap[os.path.normpath(os.path.join(rel, d))] = None
        for fn in fns:
            with open(os.path.join(dp, fn), "rb") as fh:
                snap[os.path.normpath(os.path.join(rel, fn))] = fh.read()
    return snap


def read_log(path, upto=None):
    """Log lines, stopping after change upto (None: all)."""
    out = []
    with open(path, "r", encoding="ascii", errors="replace") as fh:
        for line in fh:
            f = line.split(" ", 1)
            if upto is not None and f[0].isdigit() and int(f[0]) > upto:
                break
            out.append(line)
    return out


def random_state_rng(seed):
    return random.Random(seed)


def describe(lines, root):
    """{change number: "op path" (relative to root)} of a log."""
    root = root.rstrip("/") + "/"
    fds, out = {}, {}

    def rel(p):
        if p + "/" == root:
            return "."
        return p[len(root):] if p.startswith(root) else p
    for line in lines:
        f = line.rstrip("\n").split(" ")
        if len(f) < 4 or f[0] in ("proc", "crash"):
            continue
        op, pid = f[1], f[2]
        if op == "open":
            fds[(pid, f[3])] = rel(f[4])
            what = "create" if f[6] == "1" else "truncate"
            text = "%s %s" % (what, rel(f[4]))
        elif op in ("write", "ftruncate", "fsync", "fdatasync"):
            text = "%s %s" % (op, fds.get((pid, f[3]), "fd" + f[3]))
            if op == "write":
                text += " (%s bytes at %s)" % (f[5], f[4])
        elif op in ("rename", "link"):
            text = "%s %s %s" % (op, rel(f[3]), rel(f[4]))
        else:
            text = "%s %s" % (op, " ".join(rel(x) for x in f[3:]))
        if f[0].isdigit():
            out[int(f[0])] = text
    return out
