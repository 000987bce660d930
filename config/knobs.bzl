"""The one list of hz3's compile-time knobs, and the rules generated from it.

Each row: (define, macro, default, min, max, doc). `--define define=value` sets a knob; every
macro is always defined in the generated hz3_config.h (0/1 or a number), so code writes
`if (HZ3_S60_PURGE_RANGE_QUEUE)` and the switched-off arm still compiles. Knobs are never read
from the environment.
"""

HZ3_KNOBS = [
    # S57-B2: partial subrelease of free segment pages at the epoch tail.
    ("s57", "HZ3_S57_PARTIAL_PURGE", 0, 0, 1, "S57-B2 segment partial subrelease at epoch tail"),
    ("s57_decay_epochs", "HZ3_S57_PURGE_DECAY_EPOCHS", 0, 0, 1000000, "epochs a page must stay free before S57 purges it"),
    ("s57_budget_pages", "HZ3_S57_PURGE_BUDGET_PAGES", 4096, 1, 1048576, "pages S57 purges per epoch (4096 = 16 MiB)"),
    ("s57_min_range_pages", "HZ3_S57_PURGE_MIN_RANGE_PAGES", 1, 1, 512, "smallest free range worth one madvise"),
    ("s57_stats", "HZ3_S57_PURGE_STATS", 1, 0, 1, "S57 counters: madvise calls, purged pages, scanned segments"),
    # S58: tcache decay reclaim.
    ("s58", "HZ3_S58_TCACHE_DECAY", 0, 0, 1, "S58 tcache decay: unused bin capacity flows tcache -> central -> segment"),
    ("s58_max_overages", "HZ3_S58_MAX_OVERAGES", 3, 1, 255, "overflows of a bin before its max length shrinks"),
    ("s58_reclaim_budget", "HZ3_S58_RECLAIM_BUDGET", 64, 1, 65536, "objects reclaimed from one tcache per epoch"),
    ("s58_initial_max_len", "HZ3_S58_INITIAL_MAX_LEN", 32, 1, 4096, "starting max length of a tcache bin"),
    ("s58_stats", "HZ3_S58_STATS", 1, 0, 1, "S58 counters: reclaimed objects, shrinks"),
    # S60: purge range queue.
    ("s60", "HZ3_S60_PURGE_RANGE_QUEUE", 0, 0, 1, "S60 queue of ranges freed by free_run, purged without scanning"),
    ("s60_queue_size", "HZ3_S60_QUEUE_SIZE", 256, 1, 65536, "entries of the S60 range queue"),
    ("s60_budget_calls", "HZ3_S60_BUDGET_CALLS", 32, 1, 1048576, "madvise calls S60 makes per epoch"),
    ("s60_budget_pages", "HZ3_S60_BUDGET_PAGES", 512, 1, 1048576, "pages S60 purges per epoch"),
    # S61: hard purge at thread exit.
    ("s61", "HZ3_S61_DTOR_HARD_PURGE", 0, 0, 1, "S61 hard purge of the shard's free pages at thread exit"),
    ("s61_max_pages", "HZ3_S61_MAX_PAGES", 65536, 1, 16777216, "pages one S61 purge may release"),
    ("s61_max_calls", "HZ3_S61_MAX_CALLS", 256, 1, 1048576, "madvise calls one S61 purge may make"),
    # Maintenance, layout, observability.
    ("epoch_interval", "HZ3_EPOCH_INTERVAL", 1024, 1, 1073741824, "slow-path events between epochs"),
    ("shards", "HZ3_NUM_SHARDS", 8, 1, 64, "most central shards: threads are spread over min(this, CPUs the process may run on)"),
    ("stats", "HZ3_STATS", 0, 0, 1, "counters, and a dump to stderr at exit"),
    ("retain_max_pages", "HZ3_RETAIN_MAX_PAGES", 256, 0, 16777216, "free-but-resident pages kept as hot reserve; 0 = no cap (seed)"),
    ("retain_budget_calls", "HZ3_RETAIN_BUDGET_CALLS", 64, 1, 1048576, "madvise calls one retain-cap purge may make"),
    ("release_range_pages", "HZ3_RELEASE_RANGE_PAGES", 64, 1, 512, "above the retain cap, unused ranges at least this long go back first"),
    ("release_fragment_pages", "HZ3_RELEASE_FRAGMENT_PAGES", 512, 0, 16777216, "shorter unused ranges go back once a shard holds this many pages of them"),
    ("release_active_pages", "HZ3_RELEASE_ACTIVE_PAGES", 2048, 0, 16777216, "unused pages the process keeps while a shard that frees is still taking new runs (a loop that frees and allocates again)"),
    ("release_reuse_window_ms", "HZ3_RELEASE_REUSE_WINDOW_MS", 100, 0, 60000, "pages given back that the process takes again within this many ms raise a keep of unused pages (0: off)"),
    ("release_reuse_keep_max_pages", "HZ3_RELEASE_REUSE_KEEP_MAX_PAGES", 16384, 0, 16777216, "most unused pages that keep may hold"),
    ("release_batch", "HZ3_RELEASE_BATCHING", 1, 0, 1, "one process_madvise call per pass of ranges (0: one madvise per range)"),
    ("remote_direct", "HZ3_REMOTE_DIRECT", 1, 0, 1, "remote frees go straight into the owner's runs when its lock is free (0: always via its inbox)"),
    ("orphan_caches", "HZ3_ORPHAN_CACHES", 0, 0, 1, "an exiting thread's cache waits whole for the next new thread (0: it goes home to central)"),
    ("tcache_shared_bytes", "HZ3_TCACHE_SHARED_BYTES", 16777216, 0, 1073741824, "bytes all threads' bins may grow into together, an equal share each (1..16 MiB a thread); 0 = 16 MiB a thread"),
    ("batch_cache_bytes", "HZ3_BATCH_CACHE_BYTES", 2097152, 0, 1073741824, "bytes of whole flushed bin halves all threads share for their next refills (tcache/batches.h); 0 = off, every flush goes home"),
    ("tcache_max_bytes", "HZ3_TCACHE_MAX_BYTES", 262144, 0, 1073741824, "most bytes one thread's tcache holds once it frees without allocating; 0 = count caps only (seed)"),
    ("check", "HZ3_CHECK", 0, 0, 1, "detect double/invalid free and overruns; message + abort"),
    ("debug", "HZ3_DEBUG", 0, 0, 2, "assert level: 0 none, 1 HZ3_ASSERT, 2 also HZ3_ASSERT_SLOW walks"),
    ("arena_gib", "HZ3_ARENA_GIB", 256, 1, 4096, "address space one arena claims for segments, in GiB (mapped as used; another arena is claimed when one is full)"),
]

def _knob_value(ctx, define, dflt, lo, hi):
    raw = ctx.var.get(define, str(dflt))
    if not raw.isdigit():
        fail("hz3 knob --define %s=%s: not a non-negative integer" % (define, raw))
    v = int(raw)
    if v < lo or v > hi:
        fail("hz3 knob --define %s=%d is outside [%d, %d] (%s)" % (define, v, lo, hi, _doc_of(define)))
    return v

def _doc_of(define):
    for row in HZ3_KNOBS:
        if row[0] == define:
            return row[5]
    return ""

def _check_unknown_defines(ctx):
    # ctx.var holds --define values and Bazel's own make variables (upper case); a lower-case
    # name that is no knob is a misspelt or unknown --define.
    known = {row[0]: True for row in HZ3_KNOBS}
    for name in ctx.var.keys():
        if name.lower() != name or name in known:
            continue
        fail("hz3: unknown knob --define %s=%s; the knobs are: %s" %
             (name, ctx.var[name], ", ".join(sorted(known.keys()))))

def _config_header_impl(ctx):
    _check_unknown_defines(ctx)
    header = [
        "/* Generated by //config:knobs.bzl from --define values. Do not edit. */",
        "#pragma once",
        "",
    ]
    table = ["/* Generated by //config:knobs.bzl: HZ3_KNOB_ROW(define, macro value, doc). */"]
    for define, macro, dflt, lo, hi, doc in HZ3_KNOBS:
        v = _knob_value(ctx, define, dflt, lo, hi)
        header.append("/* %s (--define %s, default %d, range [%d, %d]) */" % (doc, define, dflt, lo, hi))
        header.append("#define %s %d" % (macro, v))
        table.append('HZ3_KNOB_ROW("%s", %s, "%s")' % (define, macro, doc))
    ctx.actions.write(ctx.outputs.header, "\n".join(header) + "\n")
    ctx.actions.write(ctx.outputs.table, "\n".join(table) + "\n")

hz3_config_files = rule(
    implementation = _config_header_impl,
    outputs = {"header": "hz3_config.h", "table": "hz3_config_table.inc"},
    doc = "Writes hz3_config.h and hz3_config_table.inc from HZ3_KNOBS and --define values.",
)

def hz3_knob_settings():
    """One config_setting `<define>_on` per on/off knob (e.g. //config:s57_on)."""
    for define, _macro, _dflt, lo, hi, _doc in HZ3_KNOBS:
        if lo == 0 and hi == 1:
            native.config_setting(
                name = define + "_on",
                define_values = {define: "1"},
                visibility = ["//visibility:public"],
            )
