"""Writes a C file for the compiler benchmark: FUNCS functions with loops, switches, structs
and calls between them, so that gcc -O2 spends its time in the optimiser's passes (whose
trees, RTL and hash tables come from malloc and gcc's own collector).
    python3 gen_c.py [FUNCS] > gen.c   (default 120)
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 120
print("struct pt { long x, y; double w; };")
for i in range(n):
    callee = "f%d(v ^ %d, p)" % (i - 1, i) if i else "v"
    print("long f%d(long v, struct pt *p) {" % i)
    print("  long acc = %d;" % i)
    print("  for (int k = 0; k < (int)(v & 15); k++) {")
    print("    switch ((v + k) %% %d) {" % (5 + i % 7))
    for c in range(5 + i % 7):
        print("      case %d: acc += p[k & 3].x * %d - (acc >> %d); p[k & 3].w += acc * 0.%d; break;"
              % (c, c + 1, c % 5 + 1, c + 1))
    print("      default: acc ^= k;")
    print("    }")
    print("  }")
    print("  return acc + %s;" % callee)
    print("}")
