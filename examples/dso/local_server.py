"""A local nvobj-dso for the example drivers (run_pi.py, run_kmeans.py):
started on a free port with a fresh pool in a unique /dev/shm directory,
stopped (SIGTERM: the pool closes cleanly) and removed at the end."""
import os
import shutil
import signal
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.join(ROOT, "build", "bin")


class LocalServer:
    def __init__(self, server, modules=(), size="256M"):
        self.server = server
        self.modules = list(modules)
        self.size = size
        self.proc = None
        self.port = None
        self.dir = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="nvobj-example-", dir="/dev/shm")
        args = [self.server, "--port", "0", "--pool", os.path.join(self.dir, "dso.pool"),
                "--size", self.size, "--mode", "emulated", "--log-level", "error"]
        for m in self.modules:
            args += ["--load-module", m]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            if line.startswith("nvobj-dso ready on"):
                self.port = int(line.rsplit(":", 1)[1])
                return self
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.server} did not start")

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)
