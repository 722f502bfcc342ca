"""A client of `plast serve` (docs/api.md) in one file, standard library only.

    from plast_client import PlastClient
    with PlastClient.start() as c:                     # runs `plast serve` on stdio
        m = c.call("model.load", {"dir": "assets/mini-ml"})
        job = c.submit("profile", {...})               # a job: iterate its progress, cancel it
        for p in job.progress():
            print(p["stage"], p.get("done"), p.get("total"))
        print(job.result())

PlastClient.connect_socket(path) and PlastClient.connect_tcp(host, port, token=...) reach a server
started with --socket or --listen. Errors raise PlastRpcError: .code is the JSON-RPC code, .engine_code
the engine's (ERR_FORMAT, ERR_DATA, ...), .data its file, line and field. Arrays in results
(forward's counts and logits) decode with decode_array().
"""

import base64
import itertools
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
from array import array

__all__ = ["PlastClient", "PlastRpcError", "Job", "decode_array"]


class PlastRpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(f"{message} (JSON-RPC {code}, {(data or {}).get('code')})")
        self.code = code
        self.message = message
        self.data = data or {}

    @property
    def engine_code(self):
        return self.data.get("code")


def decode_array(payload):
    """A {dtype, shape, data} payload as (flat array.array, shape); little-endian like the server."""
    a = array("q" if payload["dtype"] == "i64" else "f")
    a.frombytes(base64.b64decode(payload["data"]))
    if sys.byteorder != "little":
        a.byteswap()
    return a, payload["shape"]


_DONE = object()


class Job:
    """One request in flight: its $/progress values, then its result (or error)."""

    def __init__(self, client, req_id):
        self._client = client
        self.id = req_id
        self._events = queue.Queue()
        self._response = None
        self._done = threading.Event()

    def _progress(self, value):
        self._events.put(value)

    def _finish(self, msg):
        self._response = msg
        self._done.set()
        self._events.put(_DONE)

    def progress(self):
        """Yields each progress value until the request is answered."""
        while True:
            v = self._events.get()
            if v is _DONE:
                return
            yield v

    def cancel(self):
        """Asks the server to stop the job ($/cancelRequest); result() then tells how it ended."""
        if not self._done.is_set():
            self._client._send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": self.id}})

    def result(self, timeout=None):
        if not self._done.wait(timeout):
            raise TimeoutError(f"request {self.id} not answered in {timeout} s")
        msg = self._response
        if "error" in msg:
            e = msg["error"]
            raise PlastRpcError(e.get("code"), e.get("message", ""), e.get("data"))
        return msg.get("result")


class PlastClient:
    def __init__(self, rfile, wfile, process=None, closer=None):
        self._r = rfile
        self._w = wfile
        self.process = process
        self._closer = closer
        self._ids = itertools.count(1)
        self._jobs = {}
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- starting and connecting ------------------------------------------------------------
    @classmethod
    def start(cls, command=None, env=None, token=None):
        """Starts `plast serve` (default: the `plast` on PATH, else node on this checkout's dist)."""
        if command is None:
            plast = shutil.which("plast")
            here = os.path.dirname(os.path.abspath(__file__))
            main = os.path.join(here, "..", "..", "dist", "src", "cli", "main.js")
            command = [plast, "serve"] if plast else ["node", os.path.normpath(main), "serve"]
        p = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        c = cls(p.stdout, p.stdin, process=p)
        if token is not None:
            c.call("auth", {"token": token})
        return c

    @classmethod
    def connect_socket(cls, path, token=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return cls._over_socket(s, token)

    @classmethod
    def connect_tcp(cls, host, port, token=None):
        return cls._over_socket(socket.create_connection((host, port)), token)

    @classmethod
    def _over_socket(cls, s, token):
        c = cls(s.makefile("rb"), s.makefile("wb"), closer=s.close)
        if token is not None:
            c.call("auth", {"token": token})
        return c

    # -- calls ----------------------------------------------------------------------------------
    def submit(self, method, params=None):
        """Sends a request and returns its Job at once (progress notifications are requested)."""
        req_id = next(self._ids)
        job = Job(self, req_id)
        params = dict(params or {})
        params.setdefault("progressToken", f"py{req_id}")
        with self._lock:
            self._jobs[req_id] = job
            self._jobs[params["progressToken"]] = job
        self._send({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})
        return job

    def call(self, method, params=None, timeout=None):
        """Sends a request and waits for its result (without progress)."""
        req_id = next(self._ids)
        job = Job(self, req_id)
        with self._lock:
            self._jobs[req_id] = job
        self._send({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or {}})
        return job.result(timeout)

    def close(self, timeout=30):
        """Closes the connection; a server this client started ends with it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._w.close()
        except OSError:
            pass
        if self._closer:
            self._closer()
        if self.process is not None:
            self.process.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- framing (Content-Length, as LSP) -----------------------------------------------------------
    def _send(self, msg):
        body = json.dumps(msg).encode("utf-8")
        with self._lock:
            self._w.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self._w.flush()

    def _read_loop(self):
        try:
            while True:
                length = None
                while True:
                    line = self._r.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                msg = json.loads(self._r.read(length))
                if msg.get("method") == "$/progress":
                    p = msg["params"]
                    job = self._jobs.get(p["token"])
                    if job:
                        job._progress(p["value"])
                elif "id" in msg and msg["id"] is not None:
                    with self._lock:
                        job = self._jobs.pop(msg["id"], None)
                        if job:
                            self._jobs = {k: v for k, v in self._jobs.items() if v is not job}
                    if job:
                        job._finish(msg)
        finally:
            # The server is gone: every request still waiting fails.
            for job in set(self._jobs.values()):
                job._finish({"error": {"code": -32099, "message": "connection closed", "data": {"code": "ERR_IO"}}})
