#!/usr/bin/env bash
# make-busybox-rootfs.sh OUT.tar — a minimal busybox root filesystem as a tar, built from Debian's
# busybox-static (no registry needed): bin/busybox + one symlink per applet, /etc/passwd and /etc/group
# (root, nobody, app=1000), tmp (1777), and the empty mount-point dirs. Every entry is owned by 0:0.
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "make-busybox-rootfs.sh: $bb not found (apt-get install busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would not run in a rootfs without libc.
if ldd "$bb" >/dev/null 2>&1; then
  echo "make-busybox-rootfs.sh: $bb is dynamically linked; need busybox-static" >&2; exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/bbroot.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cd "$stage"
mkdir -p bin usr/bin etc root proc sys dev tmp home/app var
cp "$bb" bin/busybox
for applet in $(bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "bin/$applet"
done
ln -s ../../bin/env usr/bin/env   # scripts with `#!/usr/bin/env sh`
ln -s bin sbin                    # applets some scripts call by /sbin path

cat > etc/passwd <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > etc/group <<'GR'
root:x:0:
app:x:1000:
nogroup:x:65534:
GR
chmod 1777 tmp
chmod 0700 root
chown -R 0:0 .
chown 1000:1000 home/app

tmp_out="$out.tmp.$$"
# Names without a leading "./", as `docker export` writes them.
tar --numeric-owner -cf "$tmp_out" bin sbin usr etc root proc sys dev tmp home var
mv -f "$tmp_out" "$out"
