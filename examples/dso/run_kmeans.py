#!/usr/bin/python3
"""k-means on nvobj-dso, in one command: starts a local nvobj-dso with the
kmeans module (free port, pool on /dev/shm), runs N nvobj-dso-kmeans worker
processes sharing one kmeans.GlobalCentroids object, optionally SIGKILLs
workers mid-run and starts them again, then checks the result against the
same k-means computed in one process, and stops the server.

  examples/dso/run_kmeans.py [--workers 3] [--points 2000] [--k 4] [--dims 2]
      [--iterations 10] [--kill WORKER:EVENT:ITERATION ...]

A kill fires when the worker prints "worker W EVENT I" (EVENT: started,
updated, passed), i.e. at about that point of its run: after reading the
iteration's centroids, after its update was merged, after the barrier. The
killed worker is started again with the same arguments and goes on from
the object's iteration; its repeated calls are IDEMPOTENT, so the result
must equal the run without kills (up to the order of floating-point sums),
and each iteration must have merged every worker's update exactly once.
Exit 0 when it does.
"""
import argparse
import os
import queue
import subprocess
import sys
import threading

from local_server import BIN_DIR, LocalServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_kill(text):
    w, event, it = text.split(":")
    if event not in ("started", "updated", "passed"):
        raise argparse.ArgumentTypeError(f"unknown event '{event}'")
    return int(w), event, int(it)


def centroids(text):
    for line in text.splitlines():
        if line.startswith("centroids"):
            return [float(v) for v in line.split()[1:]]
    sys.exit(f"run_kmeans: no centroids in {text!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--points", type=int, default=2000, help="points per worker")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--dims", type=int, default=2)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kill", type=parse_kill, action="append", default=[],
                   metavar="W:EVENT:I", help="SIGKILL worker W at EVENT of iteration I")
    p.add_argument("--bin-dir", default=BIN_DIR)
    p.add_argument("--module", default=os.path.join(ROOT, "build", "lib", "kmeans.so"))
    args = p.parse_args()
    km = os.path.join(args.bin_dir, "nvobj-dso-kmeans")
    shape = ["--workers", str(args.workers), "--points", str(args.points), "--k", str(args.k),
             "--dims", str(args.dims), "--iterations", str(args.iterations),
             "--seed", str(args.seed)]
    kills = set(args.kill)
    events = queue.Queue()

    def start_worker(port, w):
        proc = subprocess.Popen([km, "--port", str(port), *shape, "worker", "--id", str(w)],
                                stdout=subprocess.PIPE, text=True)

        def read():
            for line in proc.stdout:
                events.put((w, proc, line.split()))
            events.put((w, proc, None))  # the worker exited (or was killed)

        threading.Thread(target=read, daemon=True).start()
        return proc

    with LocalServer(os.path.join(args.bin_dir, "nvobj-dso"), [args.module]) as server:
        procs = {w: start_worker(server.port, w) for w in range(args.workers)}
        running, killed = args.workers, 0
        while running > 0:
            w, proc, fields = events.get()
            if proc is not procs[w]:
                continue  # a line or the end of a worker already replaced
            if fields is None:
                if proc.wait() != 0:
                    sys.exit(f"run_kmeans: worker {w} failed with {proc.returncode}")
                running -= 1
                continue
            event, it = fields[2], int(fields[3])
            if (w, event, it) in kills:
                kills.discard((w, event, it))
                proc.kill()
                proc.wait()
                killed += 1
                print(f"killed worker {w} at '{event} {it}', starting it again", flush=True)
                procs[w] = start_worker(server.port, w)
        if kills:
            sys.exit(f"run_kmeans: kill points never reached: {sorted(kills)}")
        out = subprocess.run([km, "--port", str(server.port), *shape, "result"],
                             capture_output=True, text=True, check=True).stdout
    ref = subprocess.run([km, *shape, "reference"], capture_output=True, text=True,
                         check=True).stdout
    got, want = centroids(out), centroids(ref)
    iteration = int(out.split()[1])
    print(f"iteration {iteration}, centroids {' '.join(f'{v:.6f}' for v in got)}")
    if iteration != args.iterations:
        sys.exit(f"run_kmeans: the object is at iteration {iteration}, not {args.iterations}")
    # The object sums the workers' partial results in arrival order, the
    # reference in worker order: the same up to rounding.
    bad = [(g, r) for g, r in zip(got, want) if abs(g - r) > 1e-9 * max(1.0, abs(r))]
    if len(got) != len(want) or bad:
        sys.exit(f"run_kmeans: centroids differ from the reference: {bad or (got, want)}")
    # Each iteration merged each worker's update once: the last merger's
    # record (a restarted one may repeat it, with the same numbers).
    merged = {}
    for line in out.splitlines():
        if line.startswith("merged"):
            it, updates, points = (int(v) for v in line.split()[1:])
            merged.setdefault(it, set()).add((updates, points))
    want_merged = {(args.workers, args.workers * args.points)}
    bad = {it: m for it, m in merged.items() if m != want_merged}
    if bad or sorted(merged) != list(range(args.iterations)):
        sys.exit(f"run_kmeans: merged (updates, points) per iteration: {merged}, "
                 f"want {want_merged} for each of {args.iterations}")
    # The points are blobs around 10*j + d: the known clustering.
    far = [(i, v) for i, v in enumerate(got)
           if abs(v - (10.0 * (i // args.dims) + i % args.dims)) > 0.5]
    if far:
        sys.exit(f"run_kmeans: centroids far from the blobs' centres: {far}")
    print(f"same as the reference k-means and the blobs' centres ({args.workers} workers, {killed} killed and "
          f"restarted): ok")


if __name__ == "__main__":
    main()
