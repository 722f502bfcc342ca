"""Load the bundled model once, run forward on two texts, then a small profile with progress.

    python3 clients/python/example.py          # from the repository root, after npm run build:ts
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plast_client import PlastClient, decode_array  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL = os.path.join(ROOT, "assets", "mini-ml")

with PlastClient.start() as c:
    m = c.call("model.load", {"dir": MODEL, "backend": "cpu"})
    for text in ["How many points did the Panthers defense surrender?", "Merhaba dünya"]:
        ids = c.call("tokenize", {"handle": m["handle"], "text": text})["ids"]
        r = c.call("forward", {"handle": m["handle"], "sequences": [{"ids": ids, "count": "all", "logitAt": [len(ids) - 1]}]})
        counts, shape = decode_array(r["counts"])
        per_layer = [sum(counts[l * shape[1]:(l + 1) * shape[1]]) for l in range(shape[0])]
        print(f"{text!r}: {r['countedTokens']} tokens, gate>0 per layer {per_layer}")
    job = c.submit("profile", {"model": MODEL, "data": os.path.join(ROOT, "assets", "data", "xquad_questions_train.jsonl"),
                               "langs": "en,ar,zh", "limit": 8, "out": os.path.join(tempfile.mkdtemp(), "profile"), "backend": "cpu", "plots": False})
    for p in job.progress():
        print("progress", p)
    print("selected layers", job.result()["selection"]["selected"])
