#!/usr/bin/python3
"""nvobj_dso (dso-backend/client/python) end to end against the real nvobj-dso.

  client_test.py --bin build/bin/nvobj-dso --module build/lib/test-modules/dso_test_counter_module.so

Starts nvobj-dso on a free port with a fresh pool in a unique /dev/shm
directory (removed afterwards) and the test module (test.Counter), then
checks every proxy method, errors, timeouts, AUTH, the pool under threads,
an IDEMPOTENT call retried across a SIGKILL and restart (applied once) and
persistent objects across a restart. Run it with /usr/bin/python3 (the
interpreter with python3-redis).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "dso-backend", "client", "python"))
import nvobj_dso  # noqa: E402

COUNTER = "test.Counter"
ARGS = None


class Server:
    """nvobj-dso as a child: start() returns once it printed its ready line."""

    def __init__(self, pool_dir, extra=()):
        self.pool = os.path.join(pool_dir, "dso.pool")
        self.extra = list(extra)
        self.proc = None
        self.port = 0

    def start(self, port=0):
        self.proc = subprocess.Popen(
            [ARGS.bin, "--port", str(port), "--pool", self.pool, "--size", "64M", "--mode",
             "emulated", "--log-level", "error", "--load-module", ARGS.module] + self.extra,
            stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            if line.startswith("nvobj-dso ready on"):
                self.port = int(line.rsplit(":", 1)[1])
                return
        raise RuntimeError("nvobj-dso did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def wait(self):
        return self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()
        if self.proc:
            self.proc.stdout.close()


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nvobj-pyclient-", dir="/dev/shm")
        self.server = Server(self.dir)
        self.server.start()
        self.c = nvobj_dso.Client(port=self.server.port)

    def tearDown(self):
        self.c.close()
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self, kill=True):
        if kill:
            self.server.kill()
        self.server.stop()
        self.server.start(self.server.port)

    def test_atomic_long(self):
        n = self.c.atomic_long("n")
        self.assertEqual(n.get(), 0)
        self.assertTrue(n.compare_and_set(0, 5))  # absent matches 0
        self.assertFalse(n.compare_and_set(4, 6))
        self.assertTrue(n.compare_and_set(5, 0))
        self.assertTrue(n.compare_and_set(0, 7))  # a stored 0 too
        self.assertEqual(n.increment_and_get(), 8)
        self.assertEqual(n.decrement_and_get(), 7)
        self.assertEqual(n.add_and_get(10), 17)
        self.assertEqual(n.get_and_add(3), 17)
        self.assertEqual(n.get(), 20)
        n.set(-4)
        self.assertEqual(n.get(), -4)
        self.c.execute("SET", "text", "abc")
        with self.assertRaises(nvobj_dso.Error) as e:
            self.c.atomic_long("text").increment_and_get()
        self.assertEqual(e.exception.code, "ERR")
        self.assertEqual(str(e.exception), "ERR value is not an integer or out of range")

    def test_atomic_boolean_and_reference(self):
        b = self.c.atomic_boolean("b")
        self.assertFalse(b.get())
        self.assertFalse(b.compare_and_set(True, False))
        self.assertTrue(b.compare_and_set(False, True))
        self.assertTrue(b.get())
        self.assertTrue(b.get_and_set(False))
        self.assertTrue(b.compare_and_set(False, True))
        b.set(False)
        self.assertFalse(b.get())
        r = self.c.atomic_reference("r")
        self.assertIsNone(r.get())
        self.assertFalse(r.compare_and_set("x", "y"))
        self.assertTrue(r.compare_and_set(None, "one"))
        self.assertFalse(r.compare_and_set(None, "z"))
        self.assertTrue(r.compare_and_set("one", "two"))
        self.assertEqual(r.get_and_set("three"), "two")
        r.set("four")
        self.assertEqual(r.get(), "four")
        raw = nvobj_dso.Client(port=self.server.port, decode_responses=False)
        raw.atomic_reference("bin").set(b"\x00\xff")
        self.assertEqual(raw.atomic_reference("bin").get(), b"\x00\xff")
        raw.close()

    def test_map(self):
        m = self.c.map("m")
        self.assertEqual(len(m), 0)
        self.assertIsNone(m.get("a"))
        self.assertTrue(m.put("a", "1"))
        self.assertFalse(m.put("a", "2"))
        m["b"] = "3"
        self.assertEqual(m["a"], "2")
        self.assertIn("b", m)
        self.assertFalse(m.contains("c"))
        self.assertEqual(m.entries(), {"a": "2", "b": "3"})
        self.assertTrue(m.remove("a"))
        self.assertFalse(m.remove("a"))
        with self.assertRaises(KeyError):
            m["a"]
        del m["b"]
        self.assertEqual(m.size(), 0)
        m["x"] = "y"
        m.clear()
        self.assertEqual(len(m), 0)

    def test_list(self):
        l = self.c.list("l")
        self.assertIsNone(l.pop())
        self.assertEqual(l.push("b"), 1)
        self.assertEqual(l.push("c"), 2)
        self.assertEqual(l.push_front("a"), 3)
        self.assertEqual(l.range(), ["a", "b", "c"])
        self.assertEqual(l.get(1), "b")
        self.assertEqual(l[-1], "c")
        self.assertIsNone(l.get(3))
        l[1] = "B"
        self.assertEqual(l.range(1, 1), ["B"])
        with self.assertRaises(nvobj_dso.Error) as e:
            l.set(9, "x")
        self.assertEqual(str(e.exception), "ERR index out of range")
        self.assertEqual(l.pop(), "c")
        self.assertEqual(l.pop_front(), "a")
        self.assertEqual(len(l), 1)
        l.clear()
        self.assertEqual(l.size(), 0)

    def test_barrier(self):
        parties = 4
        b = self.c.barrier("b", parties)
        for generation in range(3):
            got = []
            threads = [threading.Thread(target=lambda: got.append(b.wait()))
                       for _ in range(parties)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(got), [0, 1, 2, 3], generation)
        with self.assertRaises(nvobj_dso.TimeoutError):
            b.wait(timeout=0.05)
        with self.assertRaises(TimeoutError):  # the builtin catches it too
            b.wait(timeout=0)
        self.assertEqual(self.c.barrier("one", 1).wait(), 0)
        self.c.execute("SET", "s", "v")
        with self.assertRaises(nvobj_dso.Error) as e:
            self.c.barrier("s", 2)
        self.assertEqual(e.exception.code, "WRONGTYPE")
        with self.assertRaises(nvobj_dso.Error) as e:
            nvobj_dso.CyclicBarrier(self.c, "absent").wait()
        self.assertEqual(str(e.exception), "ERR no such object")

    def test_semaphore(self):
        s = self.c.semaphore("s", 2)
        self.assertEqual(s.available(), 2)
        self.assertTrue(s.acquire())
        self.assertTrue(s.try_acquire())
        self.assertFalse(s.try_acquire())
        self.assertFalse(s.acquire(1, timeout=0.03))
        waiter = threading.Thread(target=lambda: s.acquire(2))
        waiter.start()
        s.release()
        s.release()
        waiter.join()
        self.assertEqual(s.available(), 0)
        s.release(3)
        self.assertTrue(s.acquire(3, timeout=60))
        self.assertEqual(s.available(), 0)

    def test_latch_and_future(self):
        l = self.c.latch("l", 2)
        self.assertEqual(l.count(), 2)
        self.assertFalse(l.wait(timeout=0.02))
        waiter = threading.Thread(target=l.wait)
        waiter.start()
        self.assertEqual(l.count_down(), 1)
        self.assertEqual(l.count_down(), 0)
        waiter.join()
        self.assertTrue(l.wait(timeout=0))
        f = self.c.future("f")
        self.assertFalse(f.done())
        with self.assertRaises(nvobj_dso.TimeoutError):
            f.get(timeout=0.02)
        got = []
        getter = threading.Thread(target=lambda: got.append(f.get()))
        getter.start()
        f.set("value")
        getter.join()
        self.assertEqual(got, ["value"])
        self.assertTrue(f.done())
        with self.assertRaises(nvobj_dso.Error) as e:
            f.set("again")
        self.assertEqual(str(e.exception), "ERR future already set")

    def test_module_objects(self):
        n = self.c.object(COUNTER, "n")
        self.assertTrue(n.create(100))
        self.assertFalse(n.create(7))
        self.assertEqual(n.call("add", 5), 105)
        self.assertEqual(n.call("args", "s", -3, 1e-7, [0.1, -2.5], True),
                         ["s", "-3", "1e-07", "0.1", "-2.5", "1"])
        with self.assertRaises(nvobj_dso.Error) as e:
            n.call("nope")
        self.assertEqual(str(e.exception), "ERR unknown method 'nope' of type 'test.Counter'")
        w = self.c.object(COUNTER, "n").idempotent()
        self.assertEqual(w.call("add", 1), 106)
        self.assertEqual(w.call("add", 1), 107)
        self.assertEqual(w.call_with_id(2, "add", 1), 107)  # a retry of call 2
        with self.assertRaises(nvobj_dso.Error) as e:
            w.call_with_id(1, "add", 1)
        self.assertIn("stale call id 1", str(e.exception))
        it = self.c.object(COUNTER, "n").idempotent("worker-1", 10)
        self.assertEqual(it.call("add", 10), 117)
        self.assertEqual(it.call_with_id(10, "add", 10), 117)
        self.assertEqual(n.call("get"), 117)

    def test_timeouts(self):
        c = nvobj_dso.Client(port=self.server.port, command_timeout=0.1, retries=0)
        c.future("f")
        with self.assertRaises(nvobj_dso.ConnectionError) as e:
            c.execute("DSO.FUTURE.GET", "f")  # a blocking command sent as an ordinary one
        self.assertTrue(e.exception.timed_out)
        with self.assertRaises(nvobj_dso.TimeoutError):
            c.future("f").get(timeout=0.3)  # the wait is not bounded by the command timeout
        c.future("f").set("x")
        self.assertEqual(c.future("f").get(timeout=0.3), "x")
        c.close()
        port = self.server.port
        self.server.kill()
        d = nvobj_dso.Client(port=port, retries=2, retry_backoff=0.001)
        with self.assertRaises(nvobj_dso.ConnectionError) as e:
            d.ping()
        self.assertFalse(e.exception.timed_out)
        with self.assertRaises(ConnectionError):  # the builtin
            d.ping()

    def test_pool_under_threads(self):
        c = nvobj_dso.Client(port=self.server.port, pool_size=4)
        n = c.atomic_long("n")
        threads = [threading.Thread(target=lambda: [n.increment_and_get() for _ in range(200)])
                   for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(n.get(), 12 * 200)
        c.close()

    def test_idempotent_retry_across_sigkill(self):
        c = nvobj_dso.Client(port=self.server.port, retries=200, retry_backoff_max=0.05)
        self.assertTrue(c.object(COUNTER, "n").create(100))

        def restart():
            self.server.wait()  # the module's method killed it
            self.restart(kill=False)

        t = threading.Thread(target=restart)
        t.start()
        w = c.object(COUNTER, "n").idempotent()
        self.assertEqual(w.call("add_then_die_after_commit", 5), 105)
        t.join()
        self.assertEqual(w.call("get"), 105)  # applied once
        t = threading.Thread(target=restart)
        t.start()
        with self.assertRaises(nvobj_dso.ConnectionError):
            c.object(COUNTER, "n").call("add_then_die_after_commit", 1)  # not resent
        t.join()
        self.assertEqual(w.call("get"), 106)  # it did run
        c.close()

    def test_persistent_objects_survive_a_restart(self):
        c = self.c
        c.semaphore("sem", 5, persistent=True).acquire(2)
        c.latch("latch", 3, persistent=True).count_down()
        c.future("fut", persistent=True).set("done")
        c.semaphore("gone", 5)
        c.atomic_long("n").set(42)
        c.object(COUNTER, "k").create(9)
        self.restart()
        self.assertEqual(nvobj_dso.Semaphore(c, "sem").available(), 3)
        self.assertEqual(nvobj_dso.CountDownLatch(c, "latch").count(), 2)
        self.assertEqual(nvobj_dso.Future(c, "fut").get(timeout=0), "done")
        self.assertEqual(c.execute("EXISTS", "gone"), 0)
        self.assertEqual(c.atomic_long("n").get(), 42)
        self.assertEqual(c.object(COUNTER, "k").call("get"), 9)


class PasswordTest(unittest.TestCase):
    def test_password(self):
        pool_dir = tempfile.mkdtemp(prefix="nvobj-pyclient-", dir="/dev/shm")
        server = Server(pool_dir, ["--requirepass", "s3cret"])
        try:
            server.start()
            with nvobj_dso.Client(port=server.port) as c:
                with self.assertRaises(nvobj_dso.Error) as e:
                    c.atomic_long("n").get()
                self.assertEqual(e.exception.code, "NOAUTH")
            with nvobj_dso.Client(port=server.port, password="wrong") as c:
                with self.assertRaises(nvobj_dso.Error) as e:
                    c.ping()
                self.assertNotIsInstance(e.exception, nvobj_dso.ConnectionError)
            with nvobj_dso.Client(port=server.port, password="s3cret") as c:
                self.assertEqual(c.atomic_long("n").increment_and_get(), 1)
        finally:
            server.stop()
            shutil.rmtree(pool_dir, ignore_errors=True)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--module", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
