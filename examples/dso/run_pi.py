#!/usr/bin/python3
"""Monte Carlo pi on nvobj-dso, in one command: starts a local nvobj-dso
(free port, pool on /dev/shm), runs N nvobj-dso-pi worker processes that
share one counter, checks the result and stops the server.

  examples/dso/run_pi.py [--workers 4] [--samples 1000000] [--bin-dir build/bin]

Checks that the shared counter holds every worker's samples exactly, and
that the estimate is within 6 standard errors of pi. Exit 0 when it is.
"""
import argparse
import math
import os
import subprocess
import sys

from local_server import BIN_DIR, LocalServer


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--samples", type=int, default=1000000, help="points per worker")
    p.add_argument("--bin-dir", default=BIN_DIR, help="where nvobj-dso and nvobj-dso-pi are")
    args = p.parse_args()
    pi_bin = os.path.join(args.bin_dir, "nvobj-dso-pi")
    with LocalServer(os.path.join(args.bin_dir, "nvobj-dso")) as server:
        port = ["--port", str(server.port)]
        workers = [subprocess.Popen([pi_bin, *port, "worker", "--samples", str(args.samples),
                                     "--seed", str(1000 + i)]) for i in range(args.workers)]
        failed = [w.args for w in workers if w.wait() != 0]
        if failed:
            sys.exit(f"run_pi: workers failed: {failed}")
        out = subprocess.run([pi_bin, *port, "result"], capture_output=True, text=True,
                             check=True).stdout
    print(out.strip())
    fields = out.split()
    samples, hits = int(fields[1]), int(fields[3])
    want = args.workers * args.samples
    if samples != want:
        sys.exit(f"run_pi: the counter holds {samples} samples, the workers drew {want}")
    estimate = 4.0 * hits / samples
    q = math.pi / 4
    error = 4 * math.sqrt(q * (1 - q) / samples)
    if abs(estimate - math.pi) > 6 * error:
        sys.exit(f"run_pi: {estimate} is more than 6 standard errors ({error:.2g}) from pi")
    print(f"pi ~ {estimate:.6f} ({args.workers} workers, {samples} samples, "
          f"error {estimate - math.pi:+.2g}, standard error {error:.2g}): ok")


if __name__ == "__main__":
    main()
