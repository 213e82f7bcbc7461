#!/usr/bin/env python3
"""Regenerates Sources/HerdAPI/Codec/Protobuf/KubernetesProtobufSchema.swift.

The schema is read from the gzipped FileDescriptorProtos that gogo-generated Go code registers, which every
kubectl binary embeds (the very descriptors kubectl encodes with). Field numbers are never reused upstream,
so the newest kubectl's descriptors also decode what older ones send. Usage:
    scripts/gen-protobuf-schema.py /usr/lib/google-cloud-sdk/bin/kubectl.1.33 > \
        Sources/HerdAPI/Codec/Protobuf/KubernetesProtobufSchema.swift
"""
import os, sys, zlib

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

# Go struct fields embedded with `json:",inline"`: their fields belong to the enclosing JSON object. The
# descriptors cannot tell these apart from ordinary fields, so they are listed from the Go types.
INLINE = {("core.v1.Volume", "volumeSource"), ("core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
          ("core.v1.Probe", "handler"), ("core.v1.EphemeralContainer", "ephemeralContainerCommon")}
INLINE_NAMES = {"localObjectReference"}

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

SCALARS = {9: "s", 8: "b", 5: "i32", 3: "i64", 12: "y", 1: "d", 13: "u32", 4: "u64"}

def main():
    msgs = load(sys.argv[1])
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
        for fl in sorted(msgs[full]["fields"], key=lambda x: x["num"]):
            t = type_of(fl)
            flags = ""
            if fl["label"] == 3 and not t.startswith("{"):
                flags += "*"
            # gogoproto.nullable=false (65001) marks Go value fields; everything else is a pointer.
            if fl["opts"].get(65001, 1) != 0 and fl["label"] != 3:
                flags += "?"
            if (name, fl["name"]) in INLINE or fl["name"] in INLINE_NAMES:
                flags += "^"
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
    w("    /// Flags: * repeated, ? pointer field in Go (present zero values are kept), ^ inlined into the parent.\n")
    w("    static let messageTable: [(name: String, fields: String)] = [\n")
    for name in sorted(out):
        w('        ("%s", "%s"),\n' % (name, out[name]))
    w("    ]\n}\n")

main()
