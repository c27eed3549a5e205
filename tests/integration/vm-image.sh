#!/bin/bash
# vm/build-image with the paths a user gives it: a relative --bin and a
# relative --file SRC, and a program whose shared library lives under /tmp
# (found through a RUNPATH there), which the guest's own /tmp mount would
# hide. The library must land outside /tmp and the guest's loader must find
# it: checked by running the image's own loader in a chroot with a tmpfs
# over its /tmp (as the guest's /init mounts one), then in the booted guest.
. "$(dirname "$0")/lib.sh"
need_root
command -v cc >/dev/null || skip "no C compiler (gcc, scripts/deps)"
for t in cpio unshare chroot; do command -v $t >/dev/null || skip "$t is not installed"; done

# A program and its library, both under $T (in /tmp): libdpwork.so.1 in
# $T/src/lib, found by the program through its RUNPATH.
mkdir -p "$T/src/lib"
cat >"$T/src/dpwork.c" <<'EOF'
int dpwork_answer(void) { return 42; }
EOF
cat >"$T/src/prog.c" <<'EOF'
#include <stdio.h>
int dpwork_answer(void);
int main(void) { printf("dpwork answer %d\n", dpwork_answer()); return 0; }
EOF
cc -shared -fPIC -Wl,-soname,libdpwork.so.1 -o "$T/src/lib/libdpwork.so.1" "$T/src/dpwork.c" || fail "cannot build the library"
cc -o "$T/src/prog" "$T/src/prog.c" "$T/src/lib/libdpwork.so.1" -Wl,-rpath,"$T/src/lib" || fail "cannot build the program"
[ "$("$T/src/prog")" = "dpwork answer 42" ] || fail "the program does not run on the host"
echo "guest data" >"$T/src/data.txt"

# Relative paths, from the directory that holds them.
(cd "$T/src" && "$SOURCE_ROOT/vm/build-image" --out "$T/image" --cache "$BUILD_ROOT/vm/cache" \
	--bin ./prog --file ./data.txt=/etc/dpdata.txt) >"$T/build.log" 2>&1 ||
	fail "vm/build-image with relative paths failed: $(tail -5 "$T/build.log")"
cp "$T/image/manifest" "$ARTIFACTS/"
grep -qx "bin /bin/prog $T/src/prog" "$T/image/manifest" || fail "manifest: no 'bin /bin/prog $T/src/prog'"
grep -qx "lib /usr/local/lib/libdpwork.so.1 $T/src/lib/libdpwork.so.1" "$T/image/manifest" ||
	fail "manifest: the library under /tmp was not put in /usr/local/lib: $(grep '^lib' "$T/image/manifest")"
grep -q '^lib /tmp/' "$T/image/manifest" && fail "manifest: a library still at a /tmp path: $(grep '^lib /tmp/' "$T/image/manifest")"
grep -qx "file /etc/dpdata.txt $T/src/data.txt" "$T/image/manifest" || fail "manifest: no 'file /etc/dpdata.txt $T/src/data.txt'"
# A relative path that does not exist is named in the error.
(cd "$T/src" && "$SOURCE_ROOT/vm/build-image" --out "$T/image2" --cache "$BUILD_ROOT/vm/cache" --bin ./nothere) \
	>"$T/bad.log" 2>&1 && fail "vm/build-image accepted --bin ./nothere"
grep -q -- "--bin ./nothere: no such file" "$T/bad.log" || fail "unclear error for --bin ./nothere: $(cat "$T/bad.log")"

# The image's loader, in a chroot, with a tmpfs over /tmp as in the guest.
mkdir "$T/root"
(cd "$T/root" && gzip -dc "$T/image/initrd.img" | cpio -idm --quiet) || fail "cannot unpack the initramfs"
out=$(unshare -m sh -c 'mount -t tmpfs tmpfs "$1/tmp" && chroot "$1" /bin/prog && chroot "$1" /bin/cat /etc/dpdata.txt' sh "$T/root" 2>&1) ||
	fail "the program does not run in the image (chroot, /tmp mounted over): $out"
[ "$out" = "dpwork answer 42
guest data" ] || fail "in the image: '$out'"
echo "# chroot into the image, /tmp mounted over: $(echo $out)"

# The booted guest.
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (scripts/deps); the chroot check passed"
out=$("$SOURCE_ROOT/vm/launch" run --name "img$$" --image "$T/image" --state "$T/vmstate" --timeout 240 \
	-- '/bin/prog; cat /etc/dpdata.txt' 2>"$T/launch.err") || fail "the guest command failed: $out $(tail -5 "$T/launch.err")"
echo "$out" | grep -qx "dpwork answer 42" || fail "in the guest: '$out'"
echo "$out" | grep -qx "guest data" || fail "in the guest, /etc/dpdata.txt: '$out'"
echo "# in the booted guest: $(echo $out)"
