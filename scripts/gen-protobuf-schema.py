#!/usr/bin/env python3
"""Regenerates Sources/HerdAPI/Codec/Protobuf/KubernetesProtobufSchema.swift.

The schema is read from the gzipped FileDescriptorProtos that gogo-generated Go code registers, which every
kubectl binary embeds (the very descriptors kubectl encodes with). The Go struct tags, read from the same
binary's reflection data, say which fields are inlined into their parent's JSON and which value fields lack
`omitempty` (Go writes those even when zero). Field numbers are never reused upstream, so the newest
kubectl's descriptors also decode what older ones send. Usage:
    scripts/gen-protobuf-schema.py /usr/lib/google-cloud-sdk/bin/kubectl.1.33 > \
        Sources/HerdAPI/Codec/Protobuf/KubernetesProtobufSchema.swift
"""
import os, re, struct, sys, zlib

# (apiVersion, kind, proto message) of every object the decoder accepts.
KINDS = [
    ("v1", "Namespace", "core.v1.Namespace"),
    ("v1", "ConfigMap", "core.v1.ConfigMap"),
    ("v1", "Secret", "core.v1.Secret"),
    ("v1", "ServiceAccount", "core.v1.ServiceAccount"),
    ("v1", "Service", "core.v1.Service"),
    ("v1", "Pod", "core.v1.Pod"),
    ("v1", "PodTemplate", "core.v1.PodTemplate"),
    ("v1", "Endpoints", "core.v1.Endpoints"),
    ("v1", "Event", "core.v1.Event"),
    ("v1", "Node", "core.v1.Node"),
    ("v1", "ReplicationController", "core.v1.ReplicationController"),
    ("v1", "Binding", "core.v1.Binding"),
    ("apps/v1", "Deployment", "apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", "apps.v1.ReplicaSet"),
    ("apps/v1", "DaemonSet", "apps.v1.DaemonSet"),
    ("apps/v1", "StatefulSet", "apps.v1.StatefulSet"),
    ("batch/v1", "Job", "batch.v1.Job"),
    ("batch/v1", "CronJob", "batch.v1.CronJob"),
    ("autoscaling/v1", "HorizontalPodAutoscaler", "autoscaling.v1.HorizontalPodAutoscaler"),
    ("autoscaling/v1", "Scale", "autoscaling.v1.Scale"),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "autoscaling.v2.HorizontalPodAutoscaler"),
    ("coordination.k8s.io/v1", "Lease", "coordination.v1.Lease"),
    ("discovery.k8s.io/v1", "EndpointSlice", "discovery.v1.EndpointSlice"),
    ("meta.k8s.io/v1", "DeleteOptions", "meta.v1.DeleteOptions"),
]

# Messages with a JSON form of their own (custom MarshalJSON in Go); the decoder handles them in code.
SPECIAL = {"meta.v1.Time", "meta.v1.MicroTime", "meta.v1.FieldsV1", "resource.Quantity", "intstr.IntOrString",
           "runtime.RawExtension"}
# Special messages the decoder does not implement yet: reaching one from a listed kind is an error here.
UNSUPPORTED = {"meta.v1.Duration"}

PREFIXES = [(".k8s.io.api.", ""), (".k8s.io.apimachinery.pkg.apis.meta.v1.", "meta.v1."),
            (".k8s.io.apimachinery.pkg.api.resource.", "resource."),
            (".k8s.io.apimachinery.pkg.util.intstr.", "intstr."), (".k8s.io.apimachinery.pkg.runtime.", "runtime.")]

def short(full):
    for p, r in PREFIXES:
        if full.startswith(p):
            return r + full[len(p):]
    raise SystemExit("unexpected message " + full)

def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return r, i

def fields(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i); f, w = k >> 3, k & 7
        if w == 0: v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif w == 1: v = b[i:i + 8]; i += 8
        elif w == 5: v = b[i:i + 4]; i += 4
        else: raise SystemExit("wire type %d" % w)
        out.append((f, v))
    return out

def parse_msg(b, prefix, into):
    name, flds, nested, is_map = None, [], [], False
    for f, v in fields(b):
        if f == 1: name = v.decode()
        elif f == 2:
            d = {"opts": {}}
            for ff, vv in fields(v):
                if ff == 1: d["name"] = vv.decode()
                elif ff == 3: d["num"] = vv
                elif ff == 4: d["label"] = vv
                elif ff == 5: d["type"] = vv
                elif ff == 6: d["tn"] = vv.decode()
                elif ff == 8: d["opts"] = dict(fields(vv))
            flds.append(d)
        elif f == 3: nested.append(v)
        elif f == 7: is_map = dict(fields(v)).get(7) == 1
    full = prefix + "." + name
    into[full] = {"fields": flds, "map": is_map}
    for n in nested:
        parse_msg(n, full, into)

def load(binary):
    data = open(binary, "rb").read()
    msgs, i = {}, 0
    while (i := data.find(b"\x1f\x8b\x08", i)) >= 0:
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[i:i + 4_000_000])
        except zlib.error:
            raw = b""
        i += 3
        if not raw.startswith(b"\n") or b"generated.proto" not in raw[:120]:
            continue
        pkg = next(v.decode() for f, v in fields(raw) if f == 2)
        for f, v in fields(raw):
            if f == 4:
                parse_msg(v, "." + pkg, msgs)
    return msgs


JSON_TAG = re.compile(r'json:"([A-Za-z0-9]*)((?:,[a-z]+)*)"')
PROTO_TAG = re.compile(r'protobuf:"\w+,(\d+)')

def go_struct_tags(binary):
    """Maps Go type names ("k8s.io/api/core/v1.Container") to the tagged fields of every struct type of that name:
    lists of (protobuf field number, json name, json options). Reads the ELF sections and the reflection
    metadata the Go linker keeps for every type (abi.StructType: 48-byte Type, PkgPath, Fields slice)."""
    data = open(binary, "rb").read()
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    sections, named = [], {}
    for name, typ, _, addr, off, size in headers:
        n = data[strtab + name:data.index(b"\0", strtab + name)].decode()
        named[n] = (addr, off, size)
        if addr and typ != 8:
            sections.append((addr, off, size))

    def offset(va):
        for a, o, sz in sections:
            if a <= va < a + sz:
                return o + va - a
        return None

    def uvarint(i):
        r = s = 0
        while True:
            c = data[i]; i += 1; r |= (c & 0x7f) << s; s += 7
            if c < 0x80:
                return r, i

    def go_name(va):
        o = offset(va)
        if o is None:
            return None
        flags = data[o]
        n, i = uvarint(o + 1)
        name = data[i:i + n].decode("latin1")
        tag = ""
        if flags & 2:
            t, j = uvarint(i + n)
            tag = data[j:j + t].decode("latin1")
        return name, tag

    types_base = named[".rodata"][0]
    out = {}
    for sec in (".data.rel.ro", ".rodata"):
        if sec not in named:
            continue
        _, off, size = named[sec]
        for p in range(off, off + size - 80, 8):
            if data[p + 23] & 0x1f != 25:  # reflect.Struct
                continue
            fptr, flen, fcap = struct.unpack_from("<QQQ", data, p + 56)
            fo = offset(fptr)
            if not (0 < flen == fcap <= 200) or fo is None:
                continue
            tname = go_name(types_base + struct.unpack_from("<i", data, p + 40)[0])
            if not tname:
                continue
            type_name = tname[0][1:] if data[p + 20] & 2 else tname[0]  # tflagExtraStar
            if not data[p + 20] & 1:  # tflagUncommon: named types carry their package path after the struct
                continue
            pkg = go_name(types_base + struct.unpack_from("<i", data, p + 80)[0])
            if not pkg:
                continue
            type_name = pkg[0] + "." + type_name.split(".")[-1]
            fields = []
            for k in range(flen):
                fname = go_name(struct.unpack_from("<Q", data, fo + 24 * k)[0])
                if fname is None:
                    fields = []
                    break
                pm, jm = PROTO_TAG.search(fname[1]), JSON_TAG.search(fname[1])
                if pm and jm:
                    fields.append((int(pm.group(1)), jm.group(1), jm.group(2)))
            if fields:
                out.setdefault(type_name, []).append(fields)
    return out

def go_fields(gotypes, name, descriptor_fields):
    """The Go struct of message `name` ("core.v1.Container" -> Go k8s.io/api/core/v1.Container, with the same
    protobuf field numbers and JSON names): {field number: (json name, json options)}."""
    pkg, _, short_name = name.rpartition(".")
    go_pkg = {"meta.v1": "k8s.io/apimachinery/pkg/apis/meta/v1"}.get(pkg, "k8s.io/api/" + pkg.replace(".", "/"))
    want = {f["num"]: f["name"] for f in descriptor_fields}
    found = set()
    for fields in gotypes.get(go_pkg + "." + short_name, []):
        if {f[0] for f in fields} == set(want) and all(f[1] in ("", want[f[0]]) for f in fields):
            found.add(tuple(sorted(fields)))
    if len(found) != 1:
        raise SystemExit("%s: %d matching Go structs" % (name, len(found)))
    return {f[0]: (f[1], f[2]) for f in found.pop()}

SCALARS = {9: "s", 8: "b", 5: "i32", 3: "i64", 12: "y", 1: "d", 13: "u32", 4: "u64"}

def main():
    msgs = load(sys.argv[1])
    gotypes = go_struct_tags(sys.argv[1])
    out, todo, seen = {}, [k[2] for k in KINDS], set()

    def type_of(fl):
        t = fl["type"]
        if t in SCALARS:
            return SCALARS[t]
        if t != 11:
            raise SystemExit("unsupported proto type %d" % t)
        target = msgs[fl["tn"]]
        if target["map"]:
            kf = {x["num"]: x for x in target["fields"]}
            if kf[1]["type"] != 9:
                raise SystemExit("non-string map key in " + fl["tn"])
            return "{" + type_of(kf[2]) + "}"
        name = short(fl["tn"])
        if name in UNSUPPORTED:
            raise SystemExit("%s needs decoder support" % name)
        todo.append(name)
        return "@" + name

    while todo:
        name = todo.pop()
        if name in seen or name in SPECIAL:
            continue
        seen.add(name)
        full = next(p + name[len(r):] for p, r in PREFIXES if name.startswith(r) and p + name[len(r):] in msgs)
        parts = []
        tags = go_fields(gotypes, name, msgs[full]["fields"])
        for fl in sorted(msgs[full]["fields"], key=lambda x: x["num"]):
            t = type_of(fl)
            json_name, json_opts = tags[fl["num"]]
            inline = json_name == "" and ",inline" in json_opts
            if not inline and json_name != fl["name"]:
                raise SystemExit("%s.%s: JSON name %s" % (name, fl["name"], json_name))
            flags = ""
            if fl["label"] == 3 and not t.startswith("{"):
                flags += "*"
            # gogoproto.nullable=false (65001) marks Go value fields; everything else is a pointer.
            pointer = fl["opts"].get(65001, 1) != 0 and fl["label"] != 3
            if pointer:
                flags += "?"
            if inline:
                flags += "^"
            # Go's JSON encoder writes value fields without omitempty even at zero, and value structs always
            # (omitempty has no effect on structs).
            if not pointer and fl["label"] != 3 and (t[0] == "@" or (t[0] != "{" and ",omitempty" not in json_opts)):
                flags += "!"
            parts.append("%d:%s:%s%s" % (fl["num"], fl["name"], t, flags))
        out[name] = " ".join(parts)

    w = sys.stdout.write
    w("// Generated by scripts/gen-protobuf-schema.py from the protobuf descriptors embedded in %s\n"
      % os.path.basename(sys.argv[1]))
    w("// (k8s.io/api and k8s.io/apimachinery generated.proto). Do not edit by hand: regenerate.\n\n")
    w("extension KubernetesProtobuf {\n")
    w("    /// apiVersion and kind of every accepted object, and the message its `raw` bytes hold.\n")
    w("    static let kindTable: [(apiVersion: String, kind: String, message: String)] = [\n")
    for a, k, m in KINDS:
        w('        ("%s", "%s", "%s"),\n' % (a, k, m))
    w("    ]\n\n")
    w("    /// One entry per message: space-separated `number:jsonName:type[flags]`. Types: s string, b bool,\n")
    w("    /// i32/i64/u32/u64 varints, d double, y bytes, @Message, {valueType} a map with string keys.\n")
    w("    /// Flags: * repeated, ? pointer field in Go (present zero values are kept), ^ inlined into the parent,\n")
    w("    /// ! always in the JSON, zero when absent (Go value structs, and value scalars without omitempty).\n")
    w("    static let messageTable: [(name: String, fields: String)] = [\n")
    for name in sorted(out):
        w('        ("%s", "%s"),\n' % (name, out[name]))
    w("    ]\n}\n")

main()
