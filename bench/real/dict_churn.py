"""Dict churn: the allocation shape of a Python program that builds and drops records.

Run with PYTHONMALLOC=malloc so that every object comes from the process's malloc (CPython's
own small-object arenas would otherwise serve most of them).  Each round fills a dict with
records (a small dict holding an int, a str and a list), deletes every other key, rebuilds
the survivors through a comprehension and drops the rest.  Prints a checksum of what is left.
    python3 dict_churn.py [ROUNDS]   (default 4)
"""
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
d = {}
check = 0
for r in range(rounds):
    for i in range(200000):
        d[i] = {"id": i, "name": "item-%d-%d" % (r, i), "tags": [i, r, i * r]}
    for i in range(0, 200000, 2):
        del d[i]
    d = {k: dict(v, round=r) for k, v in d.items() if k % 3}
    check = (check * 31 + len(d) + sum(len(v["name"]) for v in d.values())) % 1000000007
    d.clear()
print("dict_churn rounds=%d checksum=%d" % (rounds, check))
