#!/usr/bin/env python3
"""Write the seed corpora of fuzz/corpus/ (committed; rerun to refresh).
Needs a built domprof (build/domprof) for the session seed.

usage: fuzz/make-seeds.py [BUILD_DIR]"""
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build")
corpus = os.path.join(root, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def s(text):
    b = text.encode()
    return struct.pack("<I", len(b)) + b


def frame(t, payload, flags=0):
    return struct.pack("<IBBH", 4 + len(payload), t, flags, 0) + payload


# events
for i, spec in enumerate(["cycles", "cpu-clock,cycles:u,instructions:k", "cycles/period=100000/u",
                          "r003c,LLC-load-misses:G", "cpu-clock/freq=99/,page-faults:H", "INST_RETIRED:ANY_P:u"]):
    put("events", f"seed-{i}", spec.encode())

# kallsyms (mode byte 0) and perf maps (mode byte 1)
put("kallsyms", "kallsyms", b"\x00" + b"ffffffff81000000 T _stext\nffffffff81000100 t do_one\n"
    b"ffffffff81000200 T tcp_v4_rcv\nffffffffc0001000 t kvm_run\t[kvm]\n")
put("kallsyms", "perfmap", b"\x01" + b"7f0000001000 40 jit_add\n7f0000001040 100 _ZN3foo3barEv\n")

# ELF: a small shared library
lib = os.path.join(build, "tests", "workloads", "libwork.so")
if os.path.exists(lib):
    with open(lib, "rb") as f:
        put("elf", "libwork.so", f.read())

# handshake: mode 0 tests the agent (server) side with a HELLO, mode 1 the
# coordinator (client) side with a HELLO_REPLY.
hello = struct.pack("<IHHI", 0x46525044, 1, 1, 7) + bytes(range(32))
put("handshake", "hello", b"\x00" + frame(1, hello) + frame(3, bytes(32)))
reply = struct.pack("<IHI", 0x46525044, 1, 7) + bytes(range(32)) + bytes(32)
put("handshake", "reply", b"\x01" + frame(2, reply))

# frames: (type, flags, u16 len, payload) — a SETUP and an AUTH_OK
setup = struct.pack("<I", 2) + s("cycles") + s("cpu-clock") + struct.pack("<QQBI", 1000, 0, 1, 500)
info = s("guest") + s("6.1.0") + s("11111111-2222-3333-4444-555555555555") + struct.pack("<IQ", 2, 123) + s("cpu-clock") + s("0.1")
put("frames", "setup", struct.pack("<BBH", 5, 0, len(setup)) + setup + struct.pack("<BBH", 4, 0x40, len(info)) + info)

# coordinator (running: STARTED came): a DATA delta, CODE, FINAL — (u8 type, u16 len, payload)
def msg(t, payload):
    return struct.pack("<BH", t, len(payload)) + payload
stop = struct.pack("<BH", 0xff, 0)  # the host sends STOP

data = b"".join([
    struct.pack("<I", 1), struct.pack("<II", 10, 11), s("guest-alpha"),                    # threads
    struct.pack("<I", 1), s("/usr/bin/guest-alpha"), s(""), bytes([0]),                    # images
    struct.pack("<I", 1), struct.pack("<I", 1), s("alpha_spin"), struct.pack("<QQ", 0x1000, 64),  # symbols
    struct.pack("<I", 1), struct.pack("<IIIQ", 0, 1, 1, 0),                                # frames
    struct.pack("<I", 1), struct.pack("<IIBIIIQIQQ", 0, 1, 2, 1, 1, 1, 0x1010, 1, 5, 5000000),  # samples
    struct.pack("<I", 1), struct.pack("<IIBIQQ", 0, 1, 2, 0, 5, 5000000),                  # timeline
])
code = struct.pack("<I", 1) + struct.pack("<IQ", 1, 0x1000) + struct.pack("<I", 4) + b"\x55\x48\x89\xe5" + \
    struct.pack("<I", 1) + struct.pack("<Q", 0x1000) + s("alpha.c") + struct.pack("<I", 3)
put("coordinator", "session", msg(13, data) + msg(13, data) + stop + msg(19, code) +
    msg(16, struct.pack("<QQ", 5, 0)) + msg(17, b""))

# coordinator with rotations (0xfc) and FORGET agreed (0xfd): the live
# counter grows across two rotations, a flush (0xfe) between them
def grow(total):
    return b"".join([struct.pack("<III", 0, 0, 0),                                        # FORGET lists
                     struct.pack("<IIII", 0, 0, 0, 0),                                    # no new rows
                     struct.pack("<I", 1), struct.pack("<IIBIIIQIQQ", 0, 1, 2, 1, 1, 1, 0x1010, 1, total, total * 1000000),
                     struct.pack("<I", 1), struct.pack("<IIBIQQ", 0, 1, 2, 0, total, total * 1000000)])
rot = struct.pack("<BH", 0xfc, 0)
put("coordinator", "rotate", struct.pack("<BH", 0xfd, 0) +
    msg(13, struct.pack("<III", 0, 0, 0) + data) + rot + msg(13, grow(8)) + struct.pack("<BH", 0xfe, 0) + rot +
    msg(13, grow(12)) + stop + msg(16, struct.pack("<QQ", 12, 0)))

# coordinator with FORGET and THREAD_IDS agreed (0xfb): thread 1 forgotten
# and its id named again by a new thread in the same frame, a flush between
def ids_frame(forget, tid):
    return b"".join([struct.pack("<I", len(forget)) + b"".join(struct.pack("<I", f) for f in forget),
                     struct.pack("<III", 1, 0, 0) if forget else struct.pack("<II", 0, 0),
                     struct.pack("<I", 1), struct.pack("<III", 1, 10, tid), s("guest-t%d" % tid),
                     struct.pack("<III", 0, 0, 0),
                     struct.pack("<I", 1), struct.pack("<IIBIIIQIQQ", 0, 1, 2, 1, 0, 0, 0x1010, 0, 1, 1000000),
                     struct.pack("<I", 0)])
put("coordinator", "thread-ids", struct.pack("<BH", 0xfb, 0) +
    msg(13, ids_frame([], 11)) + struct.pack("<BH", 0xfe, 0) + msg(13, ids_frame([1], 12)) +
    msg(13, ids_frame([1], 13)) + stop + msg(16, struct.pack("<QQ", 3, 0)))

# coordinator with FORGET and COMPACT agreed (0xf9): the agent keeps
# image 1, symbol 1 and no frame, sends a second image, symbol and frame
# under the new numbering, a flush and a rotation, then lets all go
def compact_frame(kept, rows, samples):
    out = struct.pack("<III", 0, 0, 0)                                                    # FORGET lists
    if kept is None:
        out += bytes([0])
    else:
        out += bytes([1]) + b"".join(struct.pack("<I", len(k)) + b"".join(struct.pack("<I", i) for i in k) for k in kept)
    return out + rows + samples + struct.pack("<I", 0)
beta_rows = b"".join([struct.pack("<I", 0),
                      struct.pack("<I", 1), s("/usr/bin/guest-beta"), s(""), bytes([0]),
                      struct.pack("<I", 1), struct.pack("<I", 2), s("beta_spin"), struct.pack("<QQ", 0x2000, 64),
                      struct.pack("<I", 1), struct.pack("<IIIQ", 0, 2, 2, 0)])
beta_sample = struct.pack("<I", 1) + struct.pack("<IIBIIIQIQQ", 1, 1, 2, 1, 2, 2, 0x2010, 1, 3, 3000000)
no_rows = struct.pack("<IIII", 0, 0, 0, 0)
put("coordinator", "compact", struct.pack("<BH", 0xf9, 0) +
    msg(13, struct.pack("<III", 0, 0, 0) + bytes([0]) + data) +
    msg(13, compact_frame([[1], [1], []], beta_rows, beta_sample)) + struct.pack("<BH", 0xfe, 0) +
    struct.pack("<BH", 0xfc, 0) + msg(13, compact_frame([[2], [2], [1]], struct.pack("<IIII", 0, 0, 0, 0),
                                                        struct.pack("<I", 0))) +
    msg(13, compact_frame([[], [], []], no_rows, struct.pack("<I", 0))) + stop + msg(16, struct.pack("<QQ", 8, 0)))

# session: a real (small) session, repacked with 512-byte pages
dp = os.path.join(build, "domprof")
if os.path.exists(dp):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "s.db")
        subprocess.run([dp, "record", "-q", "-g", "-o", db, "--", os.path.join(build, "tests", "workloads", "calltree"), "0.2"],
                       check=True, stdout=subprocess.DEVNULL)
        c = sqlite3.connect(db)
        c.execute("PRAGMA page_size=512")
        c.execute("VACUUM")
        c.close()
        with open(db, "rb") as f:
            put("session", "calltree.db", f.read())

# perf.data: small real captures (plain, with call chains, compressed)
if shutil.which("perf"):
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("plain", []), ("callchain", ["-g"]), ("compressed", ["-z"])):
            data = os.path.join(tmp, name + ".data")
            r = subprocess.run(["perf", "record", "-q", "-B", "-e", "cpu-clock", "-c", "2000000", "-o", data] + extra +
                               ["--", os.path.join(build, "tests", "workloads", "split"), "0.05"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0 and os.path.getsize(data) <= 65536:
                with open(data, "rb") as f:
                    put("perfdata", name, f.read())

print("seeds written to", corpus)
