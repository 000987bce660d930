"""JSON round trips: encode a document of nested lists, dicts and strings, decode it, and
rebuild part of it, as a web service does with each request.  Prints a checksum.
    python3 json_roundtrip.py [ROUNDS]   (default 2)
"""
import json
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
check = 0
for r in range(rounds):
    doc = {
        "users": [
            {"id": i, "name": "user%d" % i, "email": "u%d@example.org" % i,
             "scores": [i % 7, i % 11, i % 13], "meta": {"round": r, "even": i % 2 == 0}}
            for i in range(40000)
        ]
    }
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    kept = [u for u in back["users"] if u["meta"]["even"]]
    check = (check * 31 + len(text) + len(json.dumps(kept))) % 1000000007
print("json_roundtrip rounds=%d checksum=%d" % (rounds, check))
