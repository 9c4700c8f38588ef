#!/usr/bin/python3
"""Runs commands_test.py against one nvobj-dso backend, or against redis-server.

  run_commands_test.py BACKEND [--bin build/bin/nvobj-dso] [-- unittest args]

BACKEND is an nvobj-dso backend (nvobj, volatile, pmemobj-tx, fs) or `redis`
(a stock redis-server: the reference run). Starts three servers on free
loopback ports, each with a fresh pool (or directory) under a unique
/dev/shm directory that is removed afterwards, also on failure:

  main       --port 0 (the port read from "nvobj-dso ready on ADDR:PORT")
  auth       --requirepass, bound to 0.0.0.0 (AUTH, HELLO AUTH, remote clients)
  protected  bound to 0.0.0.0 without a password (protected mode)

then runs the suite. On a durable backend it then checks persistence on the
main pool: the key space the suite left, plus a few keys of every type,
survives SHUTDOWN and a restart; then more writes survive SIGKILL and a
restart (recovery). Exit 0 on success, 77 (ctest's SKIP_RETURN_CODE) when
redis-server is missing for BACKEND=redis.
"""
import argparse
import ctypes
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "commands_test.py")
PYTHON = "/usr/bin/python3"  # python3-redis belongs to the Debian interpreter
PASSWORD = "nvobj-test-pw"
DURABLE = {"nvobj", "pmemobj-tx", "fs"}
SKIP = 77
PREFIX = "nvobj-dso-cmdtest-"
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    # A server outlives no driver, even one killed by a ctest timeout.
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def external_address():
    """A non-loopback IPv4 address of this machine, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                             timeout=5).stdout
        for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", out):
            if not m.group(1).startswith("127."):
                return m.group(1)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            if not info[4][0].startswith("127."):
                return info[4][0]
    except OSError:
        pass
    return None


def remove_stale_dirs():
    """Directories of earlier runs whose driver died without cleaning up."""
    for name in os.listdir("/dev/shm"):
        m = re.match(re.escape(PREFIX) + r"[\w-]+?-(\d+)-", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            shutil.rmtree(os.path.join("/dev/shm", name), ignore_errors=True)


class Server:
    """One nvobj-dso or redis-server process."""

    def __init__(self, kind, backend, binary, work, name, password=None, bind="127.0.0.1"):
        self.kind, self.backend, self.binary = kind, backend, binary
        self.work, self.name, self.password, self.bind = work, name, password, bind
        self.proc = None
        self.port = None
        self.starts = 0

    @property
    def log(self):
        return os.path.join(self.work, f"{self.name}.{self.starts}.log")

    def command(self):
        if self.kind == "redis":
            self.port = free_port()
            d = os.path.join(self.work, self.name)
            os.makedirs(d, exist_ok=True)
            cmd = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
                   "--dir", d, "--bind", self.bind]
            if self.password:
                cmd += ["--requirepass", self.password]
            return cmd
        cmd = [self.binary, "--backend", self.backend, "--port", "0", "--bind", self.bind,
               "--pool", os.path.join(self.work, f"{self.name}.pool"), "--size", "256M"]
        if self.password:
            cmd += ["--requirepass", self.password]
        return cmd

    def start(self, timeout=60):
        self.starts += 1
        cmd = self.command()
        out = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: exited with {self.proc.returncode} at start:\n"
                                   f"{self.tail()}")
            if self.kind == "redis":
                if self.ping():
                    return self
            else:
                m = re.search(r"^nvobj-dso ready on (\S+):(\d+)$", open(self.log).read(), re.M)
                if m:
                    self.port = int(m.group(2))
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: not ready after {timeout} s:\n{self.tail()}")

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def tail(self, lines=30):
        try:
            return "".join(open(self.log).readlines()[-lines:])
        except OSError:
            return ""

    def shutdown(self, timeout=60):
        """SHUTDOWN over the protocol; the process must exit 0."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            if self.password:
                s.sendall(b"AUTH %s\r\n" % self.password.encode())
                s.recv(64)
            s.sendall(b"SHUTDOWN\r\n")
            try:
                s.recv(64)  # the connection closes without a reply
            except OSError:
                pass
        rc = self.proc.wait(timeout)
        if rc != 0:
            raise RuntimeError(f"{self.name}: SHUTDOWN exited with {rc}:\n{self.tail()}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(60)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run(cmd, what):
    print(f"+ {what}", flush=True)
    rc = subprocess.run(cmd).returncode
    if rc != 0:
        raise RuntimeError(f"{what}: exit {rc}")


def suite(port, *args):
    return [PYTHON, SUITE, "--port", str(port), *args]


def persistence_check(main, target, work):
    """Snapshots before and after a SHUTDOWN restart, then a SIGKILL restart."""
    snap = lambda n: os.path.join(work, f"snapshot.{n}.json")
    # 1. SHUTDOWN: what the suite's 10 k-command pipeline test leaves (2,003
    # keys: strings, and a list, hash and sorted set of 2,000 elements each),
    # plus a few keys of every type written, updated and deleted.
    run(suite(main.port, "--target", target, "Pipelining.test_ten_thousand_commands"),
        "the pipeline test again (its data stays)")
    run(suite(main.port, "--target", target, "--populate", "clean"), "populate (clean run)")
    run(suite(main.port, "--target", target, "--snapshot", snap("before-shutdown")),
        "snapshot before SHUTDOWN")
    main.shutdown()
    main.start()
    run(suite(main.port, "--target", target, "--snapshot", snap("after-shutdown")),
        "snapshot after restart")
    compare(snap("before-shutdown"), snap("after-shutdown"), "SHUTDOWN + restart")
    # 2. SIGKILL: everything acknowledged before the kill is there after recovery.
    run(suite(main.port, "--target", target, "--populate", "killed"), "populate (killed run)")
    run(suite(main.port, "--target", target, "--populate", "clean"), "overwrite the clean keys")
    run(suite(main.port, "--target", target, "--snapshot", snap("before-kill")),
        "snapshot before SIGKILL")
    main.kill()
    main.start()
    run(suite(main.port, "--target", target, "--snapshot", snap("after-kill")),
        "snapshot after recovery")
    compare(snap("before-kill"), snap("after-kill"), "SIGKILL + recovery")
    if main.backend == "nvobj" and "recovered after a crash" not in open(main.log).read():
        raise RuntimeError(f"the start after SIGKILL did not report a recovery:\n{main.tail()}")


def compare(a, b, what):
    da, db = json.load(open(a)), json.load(open(b))
    if da != db:
        lost = sorted(set(da) - set(db))[:5]
        changed = sorted(k for k in set(da) & set(db) if da[k] != db[k])[:5]
        raise RuntimeError(f"{what}: the key space differs ({a} vs {b}); "
                           f"lost (hex) {lost}, changed (hex) {changed}")
    types = sorted({t for t, _ in da.values()})
    # Persistent coordination objects (semaphore...) come with the data types.
    if not {"hash", "list", "string", "zset"} <= set(types) or len(da) < 2000:
        raise RuntimeError(f"{what}: too little data to prove anything ({a})")
    print(f"ok {what}: key space identical ({len(da)} keys: {', '.join(types)})", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("backend", choices=["nvobj", "volatile", "pmemobj-tx", "fs", "redis"])
    p.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "bin", "nvobj-dso"))
    p.add_argument("--keep", action="store_true", help="keep the /dev/shm directory")
    args, rest = p.parse_known_args()
    rest = [a for a in rest if a != "--"]
    kind = "redis" if args.backend == "redis" else "nvobj-dso"
    if kind == "redis" and not shutil.which("redis-server"):
        print("redis-server not installed: skipped")
        return SKIP
    if kind == "nvobj-dso" and not os.access(args.bin, os.X_OK):
        print(f"{args.bin}: not found")
        return 1
    if importlib.util.find_spec("redis") is None:
        print(f"python3-redis is missing for {sys.executable}")
        return 1

    # SIGTERM (ctest, a user) goes through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    remove_stale_dirs()
    work = tempfile.mkdtemp(prefix=f"{PREFIX}{args.backend}-{os.getpid()}-", dir="/dev/shm")
    servers = []
    ok = False
    try:
        mk = lambda name, **kw: Server(kind, args.backend, args.bin, work, name, **kw)
        main_server = mk("main")
        auth = mk("auth", password=PASSWORD, bind="0.0.0.0")
        protected = mk("protected", bind="0.0.0.0")
        servers = [main_server, auth, protected]
        for s in servers:
            s.start()
        print(f"{args.backend}: main :{main_server.port}, auth :{auth.port}, "
              f"protected :{protected.port}, in {work}", flush=True)
        cmd = suite(main_server.port, "--target", kind, "--auth-port", str(auth.port),
                    "--password", PASSWORD, "--protected-port", str(protected.port))
        ext = external_address()
        if ext:
            cmd += ["--external-host", ext]
        if kind == "nvobj-dso":
            cmd += ["--backend", args.backend]
        run(cmd + rest, f"commands_test.py against {args.backend}")
        auth.stop()
        protected.stop()
        if args.backend in DURABLE:
            persistence_check(main_server, kind, work)
        else:
            print(f"persistence check skipped: {args.backend} keeps nothing across restarts")
        main_server.shutdown()
        ok = True
    except RuntimeError as e:
        print(f"FAILED: {e}", flush=True)
        for s in servers:
            if s.proc and s.proc.poll() is not None and s.proc.returncode not in (0, -9):
                print(f"--- {s.name} log:\n{s.tail()}")
    finally:
        for s in servers:
            s.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"run_commands_test {args.backend}: {'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
