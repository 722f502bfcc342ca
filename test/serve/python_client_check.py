"""Run by test/serve/python.test.ts: the Python client against a real `plast serve`."""
import os
import sys

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from plast_client import PlastClient, PlastRpcError, decode_array  # noqa: E402

MODEL = os.path.join(ROOT, "assets", "mini-ml")
NTREX = os.path.join(ROOT, "assets", "data", "ntrex128_train.jsonl")
out = sys.argv[2]

c = PlastClient.start(env=dict(os.environ))
m = c.call("model.load", {"dir": MODEL, "backend": "cpu"})
assert c.call("model.load", {"dir": MODEL, "backend": "cpu"})["handle"] == m["handle"]
ids = c.call("tokenize", {"handle": m["handle"], "text": "Merhaba dünya"})["ids"]
r = c.call("forward", {"handle": m["handle"], "sequences": [{"ids": ids, "count": "all", "logitAt": [len(ids) - 1]}]})
counts, shape = decode_array(r["counts"])
assert shape == [m["layers"], m["intermediate"]] and len(counts) == shape[0] * shape[1], shape
logits, lshape = decode_array(r["logits"][0])
assert lshape == [1, m["vocab"]] and len(logits) == m["vocab"]
try:
    c.call("no.such.method")
    raise SystemExit("expected -32601")
except PlastRpcError as e:
    assert e.code == -32601, e
try:
    c.call("forward", {"handle": m["handle"], "sequences": [{"ids": "x"}]})
    raise SystemExit("expected -32602")
except PlastRpcError as e:
    assert e.code == -32602 and e.data["field"] == "sequences.0.ids", e.data

# A profile: progress values in order, then cancelled mid-way: nothing written.
job = c.submit("profile", {"model": MODEL, "data": NTREX, "langs": "en,ar,tr,ru,zh", "batchTokens": 64, "out": out, "backend": "cpu", "plots": False})
seen = []
for p in job.progress():
    seen.append(p)
    if p["stage"] == "profile" and p["done"] >= 2:
        job.cancel()
try:
    job.result(60)
    raise SystemExit("expected the cancelled profile to fail")
except PlastRpcError as e:
    assert e.code == -32800 and e.engine_code == "ERR_INTERRUPTED", e
assert seen[0]["stage"] == "load", seen[0]
done = [p["done"] for p in seen if p["stage"] == "profile"]
assert done == sorted(done) and done, done
assert not os.path.exists(out), "a cancelled profile writes nothing"
c.close()
assert c.process.returncode == 0, c.process.returncode

# A listening server: TCP with a token (refused without it), then shutdown.
import re  # noqa: E402
import subprocess  # noqa: E402

main = os.path.join(ROOT, "dist", "src", "cli", "main.js")
srv = subprocess.Popen(["node", main, "serve", "--listen", "127.0.0.1:0", "--token", "t0k"], stderr=subprocess.PIPE, env=dict(os.environ))
line = srv.stderr.readline().decode()
port = int(re.search(r"listening on [\d.]+:(\d+)", line).group(1))
anon = PlastClient.connect_tcp("127.0.0.1", port)
try:
    anon.call("backends")
    raise SystemExit("expected the token to be required")
except PlastRpcError as e:
    assert e.code == -32001 and e.engine_code == "ERR_UNAUTHORIZED", e
anon.close()
t = PlastClient.connect_tcp("127.0.0.1", port, token="t0k")
assert t.call("backends")["backends"]
t.call("shutdown")
t.close()
assert srv.wait(30) == 0

# A Unix socket: connect_socket, a call, shutdown; the socket file goes with the server.
sock = os.path.join(os.path.dirname(out), "plast.sock")
srv = subprocess.Popen(["node", main, "serve", "--socket", sock], stderr=subprocess.PIPE, env=dict(os.environ))
line = srv.stderr.readline().decode()
assert sock in line, line
u = PlastClient.connect_socket(sock)
assert u.call("backends")["backends"]
assert u.call("tokenize", {"handle": u.call("model.load", {"dir": MODEL, "backend": "cpu"})["handle"], "text": "Merhaba"})["ids"]
u.call("shutdown")
u.close()
assert srv.wait(30) == 0
assert not os.path.exists(sock), "the socket file is removed at shutdown"
print("python client: ok")
