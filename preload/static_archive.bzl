"""hz3_static_archive: one libhz3.a from a cc_library and everything it links."""

def _impl(ctx):
    libs = []
    for li in ctx.attr.dep[CcInfo].linking_context.linker_inputs.to_list():
        for lib in li.libraries:
            a = lib.pic_static_library or lib.static_library
            if a != None and a not in libs:
                libs.append(a)
    out = ctx.outputs.out
    script = ["create " + out.path] + ["addlib " + a.path for a in libs] + ["save", "end"]
    ctx.actions.run_shell(
        inputs = libs,
        outputs = [out],
        command = "printf '%s\\n' " + " ".join(["'%s'" % line for line in script]) + " | ar -M",
        mnemonic = "Hz3StaticArchive",
        progress_message = "Merging %d archives into %s" % (len(libs), out.short_path),
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

hz3_static_archive = rule(
    implementation = _impl,
    attrs = {
        "dep": attr.label(providers = [CcInfo]),
        "out": attr.output(mandatory = True),
    },
    doc = "Merges the static archives of dep and its transitive deps into one archive.",
)
