"""nvobj_dso: a Python client of nvobj-dso's shared objects, on redis-py.

The Python side of nvobj::dso::Client (docs/dso.md, "Client API"): proxies
after Crucial's API for string atomics, maps, lists, the coordination
objects and user-defined (module) objects, a pool of connections shared by
threads, timeouts in seconds, and retries on a fresh connection when a call
may be sent again (reads, DSO.NEW, IDEMPOTENT module calls).

    import nvobj_dso
    c = nvobj_dso.Client(port=6379)
    c.atomic_long("hits").increment_and_get()
    c.barrier("step", 4).wait(timeout=10)
    obj = c.object("kmeans.GlobalCentroids", "c").idempotent()
    obj.call("update", coords, counts)

Needs redis-py (Debian's python3-redis: run it with /usr/bin/python3).
Values come back as str (decode_responses=True, the default) or bytes.
"""
import builtins
import itertools
import os
import threading
import time

import redis
from redis import connection as _rc

__all__ = ["Client", "Error", "TimeoutError", "ConnectionError", "AtomicLong", "AtomicBoolean",
           "AtomicReference", "Map", "List", "CyclicBarrier", "Semaphore", "CountDownLatch",
           "Future", "ModuleObject"]


class Error(Exception):
    """What the server refused: its error reply (code: ERR, WRONGTYPE...)."""

    def __init__(self, message, code=""):
        super().__init__(message)
        self.code = code


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 (a builtin catches it too)
    """A blocking call's timeout expired on the server: it had no effect."""

    def __init__(self, message):
        super().__init__(message, "TIMEOUT")


class ConnectionError(Error, builtins.ConnectionError):  # noqa: A001
    """No connection, or it failed during a call that could not be resent:
    the call may or may not have been applied. timed_out: the client's
    command timeout expired."""

    def __init__(self, message, timed_out=False):
        super().__init__(message)
        self.timed_out = timed_out


class _ServerError(redis.ResponseError):
    """An error reply with its code kept (redis-py strips "ERR ")."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text


class _Parser(_rc.PythonParser):
    def parse_error(self, response):
        return _ServerError(response)


def _raise_server_error(e):
    text = e.text
    code = text.split(" ", 1)[0]
    if code == "TIMEOUT":
        raise TimeoutError(text) from None
    raise Error(text, code) from None


def _args(values):
    """Wire form of arguments: str/bytes as they are, ints in decimal,
    floats the shortest way that reads back exactly, bools as 1/0, lists
    and tuples one argument per element."""
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(_args(v))
        elif isinstance(v, bool):
            out.append("1" if v else "0")
        elif isinstance(v, float):
            out.append(repr(v))
        else:
            out.append(v)
    return out


_DEFAULT = object()


class Client:
    """A pool of up to pool_size connections; thread-safe. Timeouts are in
    seconds (command_timeout None: no bound). A call that could not get a
    connection is tried again `retries` times with a doubling pause; one
    that failed after it was sent is resent only when that is safe."""

    def __init__(self, host="127.0.0.1", port=6379, password=None, pool_size=8,
                 connect_timeout=2.0, command_timeout=10.0, retries=5, retry_backoff=0.02,
                 retry_backoff_max=1.0, decode_responses=True):
        self.command_timeout = command_timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self._pool = redis.BlockingConnectionPool(
            max_connections=pool_size, timeout=None, host=host, port=port, password=password,
            socket_connect_timeout=connect_timeout, socket_timeout=command_timeout,
            decode_responses=decode_responses, parser_class=_Parser)
        self.address = f"{host}:{port}"

    def close(self):
        self._pool.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def execute(self, *args, safe=False, socket_timeout=_DEFAULT):
        """Sends one command; its reply, or an Error. safe: it may be sent
        again after its connection failed."""
        args = _args(args)
        pause = self.retry_backoff
        for attempt in itertools.count():
            try:
                conn = self._pool.get_connection(args[0])
            except _ServerError as e:  # AUTH refused
                _raise_server_error(e)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
                if attempt >= self.retries:
                    raise ConnectionError(f"cannot connect to {self.address}: {e}") from None
                time.sleep(pause)  # pacing retries while the server (re)starts
                pause = min(pause * 2, self.retry_backoff_max)
                continue
            try:
                if socket_timeout is not _DEFAULT:
                    conn._sock.settimeout(socket_timeout)
                conn.send_command(*args)
                reply = conn.read_response()
            except _ServerError as e:
                self._release(conn)
                _raise_server_error(e)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
                conn.disconnect()
                self._pool.release(conn)
                if safe and attempt < self.retries:
                    time.sleep(pause)
                    pause = min(pause * 2, self.retry_backoff_max)
                    continue
                raise ConnectionError(
                    f"connection to {self.address} failed during {args[0]}: {e}",
                    timed_out=isinstance(e, redis.TimeoutError)) from None
            self._release(conn)
            return reply

    def _release(self, conn):
        if conn._sock is not None:
            conn._sock.settimeout(self.command_timeout)
        self._pool.release(conn)

    def blocking(self, *args, timeout=None):
        """A call that may park on the server: timeout (seconds) is sent as
        TIMEOUT ms; None waits as long as the server keeps the call."""
        socket_timeout = None
        if timeout is not None:
            args = args + ("TIMEOUT", int(round(timeout * 1000)))
            if self.command_timeout is not None:
                socket_timeout = timeout + self.command_timeout
        return self.execute(*args, socket_timeout=socket_timeout)

    def ping(self):
        return self.execute("PING", safe=True)

    def delete(self, key):
        return self.execute("DEL", key) == 1

    # Proxies of data objects: nothing is sent until a method is called.
    def atomic_long(self, key):
        return AtomicLong(self, key)

    def atomic_boolean(self, key):
        return AtomicBoolean(self, key)

    def atomic_reference(self, key):
        return AtomicReference(self, key)

    def map(self, key):
        return Map(self, key)

    def list(self, key):
        return List(self, key)

    # Coordination objects: DSO.NEW (an object of the type already there is
    # left as it is), then the proxy. Ephemeral unless persistent=True.
    def _new(self, kind, key, persistent, *args):
        self.execute("DSO.NEW", kind, key, "PERSISTENT" if persistent else "EPHEMERAL", *args,
                     safe=True)

    def barrier(self, key, parties, persistent=False):
        self._new("barrier", key, persistent, parties)
        return CyclicBarrier(self, key)

    def semaphore(self, key, permits, persistent=False):
        self._new("semaphore", key, persistent, permits)
        return Semaphore(self, key)

    def latch(self, key, count, persistent=False):
        self._new("latch", key, persistent, count)
        return CountDownLatch(self, key)

    def future(self, key, persistent=False):
        self._new("future", key, persistent)
        return Future(self, key)

    def object(self, type_name, key):
        return ModuleObject(self, type_name, key)


class _Handle:
    def __init__(self, client, key):
        self.client = client
        self.key = key

    def _get(self):
        return self.client.execute("GET", self.key, safe=True)

    def _cas_with_absent(self, expect, update):
        # The server matches an absent value only with "": expecting the
        # zero value tries both, and fails only once it read another value.
        c = self.client
        while True:
            if c.execute("DSO.CAS", self.key, expect, update) == 1:
                return True
            if c.execute("DSO.CAS", self.key, "", update) == 1:
                return True
            now = self._get()
            if now is not None and _text(now) != expect:
                return False


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


class AtomicLong(_Handle):
    """A 64-bit counter in a string value; absent reads as 0."""

    def get(self):
        v = self._get()
        return 0 if v is None else int(v)

    def set(self, value):
        self.client.execute("SET", self.key, int(value))

    def add_and_get(self, delta):
        return self.client.execute("INCRBY", self.key, int(delta))

    def get_and_add(self, delta):
        return self.add_and_get(delta) - delta

    def increment_and_get(self):
        return self.add_and_get(1)

    def decrement_and_get(self):
        return self.add_and_get(-1)

    def compare_and_set(self, expect, update):
        if expect == 0:
            return self._cas_with_absent("0", str(update))
        return self.client.execute("DSO.CAS", self.key, str(expect), str(update)) == 1


class AtomicBoolean(_Handle):
    """A boolean in a string value ("1"/"0"); absent reads as False."""

    def get(self):
        return _text(self._get()) == "1"

    def set(self, value):
        self.client.execute("SET", self.key, bool(value))

    def get_and_set(self, value):
        return _text(self.client.execute("GETSET", self.key, bool(value))) == "1"

    def compare_and_set(self, expect, update):
        update = "1" if update else "0"
        if not expect:
            return self._cas_with_absent("0", update)
        return self.client.execute("DSO.CAS", self.key, "1", update) == 1


class AtomicReference(_Handle):
    """A byte string; absent reads as None."""

    def get(self):
        return self._get()

    def set(self, value):
        self.client.execute("SET", self.key, value)

    def get_and_set(self, value):
        return self.client.execute("GETSET", self.key, value)

    def compare_and_set(self, expect, update):
        """expect None: the value is absent (the server matches it with "")."""
        return self.client.execute("DSO.CAS", self.key, "" if expect is None else expect,
                                   update) == 1


class Map(_Handle):
    """A map of strings (a hash); also a MutableMapping-like object."""

    def get(self, field, default=None):
        v = self.client.execute("HGET", self.key, field, safe=True)
        return default if v is None else v

    def put(self, field, value):
        """True if field was new."""
        return self.client.execute("HSET", self.key, field, value) == 1

    def remove(self, field):
        """True if field was there."""
        return self.client.execute("HDEL", self.key, field) == 1

    def contains(self, field):
        return self.client.execute("HEXISTS", self.key, field, safe=True) == 1

    def size(self):
        return self.client.execute("HLEN", self.key, safe=True)

    def entries(self):
        flat = self.client.execute("HGETALL", self.key, safe=True)
        return dict(zip(flat[0::2], flat[1::2]))

    def clear(self):
        self.client.delete(self.key)

    def __getitem__(self, field):
        v = self.get(field)
        if v is None:
            raise KeyError(field)
        return v

    def __setitem__(self, field, value):
        self.put(field, value)

    def __delitem__(self, field):
        if not self.remove(field):
            raise KeyError(field)

    def __contains__(self, field):
        return self.contains(field)

    def __len__(self):
        return self.size()


class List(_Handle):
    """A list of strings; indexes from 0 at the front, -1 at the back."""

    def push(self, value):
        return self.client.execute("RPUSH", self.key, value)

    def push_front(self, value):
        return self.client.execute("LPUSH", self.key, value)

    def pop(self):
        return self.client.execute("RPOP", self.key)

    def pop_front(self):
        return self.client.execute("LPOP", self.key)

    def get(self, index):
        return self.client.execute("LINDEX", self.key, int(index), safe=True)

    def set(self, index, value):
        self.client.execute("LSET", self.key, int(index), value)

    def range(self, start=0, stop=-1):
        return self.client.execute("LRANGE", self.key, int(start), int(stop), safe=True)

    def size(self):
        return self.client.execute("LLEN", self.key, safe=True)

    def clear(self):
        self.client.delete(self.key)

    def __len__(self):
        return self.size()

    def __getitem__(self, index):
        v = self.get(index)
        if v is None:
            raise IndexError(index)
        return v

    def __setitem__(self, index, value):
        self.set(index, value)


class CyclicBarrier(_Handle):
    def wait(self, timeout=None):
        """Waits for every party; the arrival index (parties-1 for the first
        to arrive .. 0 for the last). TimeoutError: withdrawn."""
        return self.client.blocking("DSO.BARRIER.AWAIT", self.key, timeout=timeout)


class Semaphore(_Handle):
    """FIFO-fair."""

    def acquire(self, permits=1, timeout=None):
        """True once the permits are taken; False if timeout (seconds)
        expired first (nothing taken)."""
        try:
            self.client.blocking("DSO.SEM.ACQUIRE", self.key, permits, timeout=timeout)
            return True
        except TimeoutError:
            return False

    def try_acquire(self, permits=1):
        return self.client.execute("DSO.SEM.TRYACQUIRE", self.key, permits) == 1

    def release(self, permits=1):
        self.client.execute("DSO.SEM.RELEASE", self.key, permits)

    def available(self):
        return self.client.execute("DSO.SEM.AVAILABLE", self.key, safe=True)


class CountDownLatch(_Handle):
    def count_down(self):
        """The count after (never below 0)."""
        return self.client.execute("DSO.LATCH.COUNTDOWN", self.key)

    def wait(self, timeout=None):
        """True at 0; False if timeout (seconds) expired first."""
        try:
            self.client.blocking("DSO.LATCH.AWAIT", self.key, timeout=timeout)
            return True
        except TimeoutError:
            return False

    def count(self):
        return self.client.execute("DSO.LATCH.COUNT", self.key, safe=True)


class Future(_Handle):
    def set(self, value):
        """Error ("ERR future already set") the second time."""
        self.client.execute("DSO.FUTURE.SET", self.key, value)

    def get(self, timeout=None):
        """The value; TimeoutError if timeout (seconds) expired first."""
        return self.client.blocking("DSO.FUTURE.GET", self.key, timeout=timeout)

    def done(self):
        return self.client.execute("DSO.FUTURE.ISDONE", self.key, safe=True) == 1


class ModuleObject:
    """An object of a module's type. After idempotent(), calls carry
    IDEMPOTENT <caller-id> <call-id> and are resent with the same ids after
    a connection failure, so each applies once; they are made one at a time
    per handle (the server allows one call in flight per caller)."""

    def __init__(self, client, type_name, key):
        self.client = client
        self.type = type_name
        self.key = key
        self.caller_id = None
        self.next_call_id = None
        self._lock = threading.Lock()

    def create(self, *args):
        """DSO.NEW: True if created, False if an object of the type was there."""
        return self.client.execute("DSO.NEW", self.type, self.key, *args, safe=True) == 1

    def idempotent(self, caller_id=None, next_call_id=1):
        """Idempotent calls as caller_id (generated if None), call ids from
        next_call_id. Returns self."""
        self.caller_id = caller_id if caller_id is not None else "p-" + os.urandom(16).hex()
        self.next_call_id = next_call_id
        return self

    def call(self, method, *args):
        return self._call(None, method, args)

    def call_with_id(self, call_id, method, *args):
        """The call with this id (idempotent handles); later calls go on
        from call_id + 1."""
        if self.caller_id is None:
            raise Error("call_with_id on a handle that is not idempotent")
        return self._call(call_id, method, args)

    def _call(self, call_id, method, args):
        full = ("DSO.CALL", self.type, self.key, method) + tuple(args)
        if self.caller_id is None:
            return self.client.execute(*full)
        with self._lock:
            cid = self.next_call_id if call_id is None else call_id
            # The next call gets a new id even if this one fails: it may have run.
            self.next_call_id = cid + 1
            return self.client.execute(*full, "IDEMPOTENT", self.caller_id, cid, safe=True)
