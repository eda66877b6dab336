#!/usr/bin/env python3
"""Test-tree generator for the strongroom benchmarks (bench/bench_restic.sh, bench/rss_scaling.sh).

  gentree.py mixed  DIR --size-mib N [--seed S]
      ~N MiB of files: about half the bytes incompressible (os.urandom), half log-like
      text (zstd ratio ~3.5x).  Byte budget: 30% small files (4 KiB-256 KiB, log-uniform),
      35% medium (1-16 MiB), 35% large (64-256 MiB; smaller trees get one smaller "large" file).
  gentree.py small  DIR --size-mib N --files K [--seed S]
      K files of about N/K bytes each (+-50%), half random and half text, 500 per directory.
  gentree.py modify DIR [--fraction 0.01] [--seed S]
      Overwrite 4 KiB in the middle of ~1% of the files (by count, spread over the size
      range, always including the largest file) and add two new small files.

Layout and sizes depend only on --seed; the random content itself comes from os.urandom,
so nothing deduplicates across files.  Prints a one-line summary on stdout.
"""
import argparse
import math
import os
import random
import sys

KiB, MiB = 1 << 10, 1 << 20
BLOCK = 1 * MiB  # write granularity; keeps the generator's own memory small

# --- content -------------------------------------------------------------------------

_LEVELS = [b"INFO", b"INFO", b"INFO", b"DEBUG", b"WARN", b"ERROR"]
_PATHS = [b"/api/v1/items", b"/api/v1/users", b"/static/app.js", b"/healthz",
          b"/api/v2/orders", b"/login"]
_STATUS = (200, 200, 200, 201, 204, 304, 404, 500)


def make_line_pool(rng, n=100_000):
    """~10 MiB of distinct log lines.  Files are random samples of these lines: no chunk
    repeats (so no dedup), but zstd (level 1-3) compresses the result about 3.5x."""
    pool = []
    for _ in range(n):
        pool.append(b"2026-11-%02d %02d:%02d:%02d.%03d %s [worker-%d] req=%08x %s/%d "
                    b"status=%d bytes=%d dur=%dms\n" % (
                        rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                        rng.randint(0, 59), rng.randint(0, 999), rng.choice(_LEVELS),
                        rng.randint(1, 32), rng.getrandbits(32), rng.choice(_PATHS),
                        rng.randint(1, 99999), rng.choice(_STATUS), rng.randint(0, MiB),
                        rng.randint(0, 5000)))
    return pool


class Content:
    def __init__(self, seed):
        self.rng = random.Random(seed ^ 0x5EED)
        self.pool = make_line_pool(self.rng)

    def text(self, n):
        out = bytearray()
        while len(out) < n:
            out += b"".join(self.rng.choices(self.pool, k=max(16, min(10_000, (n - len(out)) // 90))))
        return bytes(out[:n])

    def write_file(self, path, size, kind):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(BLOCK, left)
                f.write(os.urandom(n) if kind == "random" else self.text(n))
                left -= n


# --- layouts ---------------------------------------------------------------------------

def log_uniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def plan_mixed(rng, total):
    """Return [(relpath, size, kind)] summing to ~total bytes."""
    classes = [  # name, share of bytes, min size, max size
        ("large", 0.35, 64 * MiB, 256 * MiB),
        ("medium", 0.35, 1 * MiB, 16 * MiB),
        ("small", 0.30, 4 * KiB, 256 * KiB),
    ]
    files, carry = [], 0
    kind_bytes = {"random": 0, "text": 0}
    for name, share, lo, hi in classes:
        budget = int(total * share) + carry
        sizes = []
        while budget >= lo or (not sizes and budget >= lo // 4 and name != "small"):
            size = min(log_uniform(rng, lo, hi), budget)
            sizes.append(size)
            budget -= size
        carry = budget  # leftover goes to the next (smaller) class
        for i, size in enumerate(sizes):
            # keep the tree ~50/50 random/text by bytes
            kind = min(kind_bytes, key=lambda k: (kind_bytes[k], rng.random()))
            kind_bytes[kind] += size
            if name == "small":
                rel = "small/d%03d/s%02d/f%06d.%s" % (i // 2000, (i // 100) % 20, i,
                                                      "bin" if kind == "random" else "log")
            else:
                rel = "%s/%s%04d.%s" % (name, name[0], i, "bin" if kind == "random" else "log")
            files.append((rel, size, kind))
    return files


def plan_small(rng, total, count):
    avg = total / count
    files = []
    for i in range(count):
        size = max(1, int(avg * rng.uniform(0.5, 1.5)))
        kind = "random" if i % 2 else "text"
        files.append(("d%04d/f%07d.%s" % (i // 500, i, "bin" if kind == "random" else "log"),
                      size, kind))
    return files


def generate(root, files, seed):
    content = Content(seed)
    for rel, size, kind in files:
        content.write_file(os.path.join(root, rel), size, kind)
    total = sum(s for _, s, _ in files)
    rnd = sum(s for _, s, k in files if k == "random")
    print("generated %d files, %d bytes (%.0f%% incompressible) in %s"
          % (len(files), total, 100.0 * rnd / max(total, 1), root))


def modify(root, fraction, seed):
    rng = random.Random(seed ^ 0xC0FFEE)
    paths = []
    for d, _, names in os.walk(root):
        paths.extend(os.path.join(d, n) for n in names)
    paths.sort(key=lambda p: (os.path.getsize(p), p))
    n = len(paths)
    count = max(1, round(n * fraction))
    stride = n / count
    chosen = sorted({n - 1 - int(k * stride) for k in range(count)})  # includes the largest
    changed = 0
    for i in chosen:
        p = paths[i]
        size = os.path.getsize(p)
        patch = os.urandom(min(4 * KiB, size))
        with open(p, "r+b") as f:
            f.seek(max(0, size // 2 - len(patch) // 2))
            f.write(patch)
        changed += len(patch)
    content = Content(seed + 1)
    content.write_file(os.path.join(root, "new", "added-1.bin"), 16 * KiB, "random")
    content.write_file(os.path.join(root, "new", "added-2.log"), 48 * KiB, "text")
    print("modified %d of %d files (%d bytes overwritten, largest file %d bytes included), "
          "added 2 new files (64 KiB)" % (len(chosen), n, changed,
                                           os.path.getsize(paths[-1])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["mixed", "small", "modify"])
    ap.add_argument("dir")
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    if a.mode == "mixed":
        generate(a.dir, plan_mixed(rng, a.size_mib * MiB), a.seed)
    elif a.mode == "small":
        generate(a.dir, plan_small(rng, a.size_mib * MiB, a.files), a.seed)
    else:
        modify(a.dir, a.fraction, a.seed)


if __name__ == "__main__":
    sys.exit(main())
