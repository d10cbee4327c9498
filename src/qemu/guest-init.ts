/**
 * The initramfs `/init` (busybox sh). It loads the 9p/virtio modules listed in /modules/order, sets the
 * serial ports' modes, mounts tracefs/debugfs/bpffs and fills the tmpfs that becomes the guest's /run (busybox,
 * the output FIFOs); then it mounts the host root read-only over virtio-9p, tmpfs on the other writable dirs,
 * moves /run into place with the run's own files in /run/kfunc/in (bound from the host's run directory after a
 * restore, copied from the per-run archive after a cold boot), mounts the read-write shares listed in its
 * `shares`, and switch_roots to its `run.sh` under the guest's busybox ash.
 * Progress events go to the control port (ttyS3) as `KFUNC <event> <uptime> [detail]`.
 * With `kfunc.snap=1` on the command line it stops before the first 9p mount and waits on ttyS3 for
 * `go <epoch seconds> <entropy hex> <run dir>`: the point at which src/qemu/snapshot.ts saves the VM state.
 */
import { UsageError } from "../errors.ts";

export const INIT_SCRIPT = `#!/bin/busybox sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ctl() { read -r up _ < /proc/uptime; echo "KFUNC $1 $up $2" > /dev/ttyS3; }
fatal() { ctl fatal "$1"; echo "kfunc-initramfs: $1" > /dev/console; poweroff -f; sleep 10; }
stty -F /dev/ttyS3 raw -echo 2>/dev/null
ctl init
grep -q kfunc.probe=1 /proc/cmdline && { ctl probe-ok; poweroff -f; }
for m in $(cat /modules/order); do
  insmod /modules/$m.ko || ctl warn "insmod $m failed"
done
# what does not need the host's shares is done before the save point, so a restored run does not pay for it
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# the guest's /run, filled here and moved under the host root once that is mounted
mkdir -p /newroot /stage
mount -t tmpfs -o mode=1777 tmpfs /stage
mkdir -p /stage/kfunc/in
cp /bin/busybox /stage/kfunc/busybox
mkfifo /stage/kfunc/o /stage/kfunc/e
# the run's own files (run.sh, shares, kconfig, mods) are in in/: bound from the host after a restore,
# copied from the per-run archive after a cold boot; the links keep their /run/kfunc/<name> paths
for f in run.sh shares kconfig mods; do ln -s "in/$f" "/stage/kfunc/$f"; done
dir=
if grep -q kfunc.snap=1 /proc/cmdline; then
  # the host saves the VM state here (no 9p share is mounted yet: QEMU cannot migrate a mounted export) and
  # every restored run resumes from this read: the host's clock, fresh entropy and the run's directory.
  # The kernel makes its boot id on the first read: made here, every restored run is the same boot (so
  # per-boot caches such as src/kernel/boot-cache.ts hold across restores); a cold boot gets a new one
  read -r _ < /proc/sys/kernel/random/boot_id
  ctl snap-ready
  read -r go epoch seed dir < /dev/ttyS3 || fatal "no command from the host after restore"
  [ "$go" = go ] || fatal "unexpected control line from the host: $go"
  date -s "@$epoch" >/dev/null || ctl warn "setting the clock failed"
  echo "$seed" > /dev/urandom
  ctl restored
fi
O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o ro,$O,cache=loose hostroot /newroot || fatal "mounting the host root over 9p failed"
# the run's files: after a restore, the run's directory on the host, bound in place (read-only, no copy);
# after a cold boot, the per-run archive's /kfunc
if [ -n "$dir" ]; then
  mount --bind "/newroot$dir/kfunc" /stage/kfunc/in || fatal "binding the run's files from $dir failed"
else
  cp -a /kfunc/. /stage/kfunc/in/ || fatal "copying the run's files failed"
fi
for d in /tmp /var/tmp /root; do mount -t tmpfs -o mode=1777 tmpfs /newroot$d; done
mount --move /stage /newroot/run || fatal "moving the guest's /run under the host root failed"
chmod 700 /newroot/root
if [ -f /newroot/run/kfunc/shares ]; then
  while read -r tag path; do
    mkdir -p "/newroot$path" 2>/dev/null
    mount -t 9p -o $O,cache=none "$tag" "/newroot$path" || fatal "mounting share $path failed"
  done < /newroot/run/kfunc/shares
fi
ctl root
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
[ -f /newroot/run/kfunc/run.sh ] || fatal "no run.sh among the run's files"
# busybox ash from the guest's /run (tmpfs), not the host's /bin/sh: exec'ing a dynamic binary over 9p
# costs a restored run ~0.25 s under TCG; run.sh resolves the command itself, so no applet stands in for it
exec switch_root /newroot /run/kfunc/busybox sh /run/kfunc/run.sh
`;

/**
 * Quotes a string for a POSIX shell: the one way a value the user named (a path, an argument, an
 * environment value) enters the guest's run script. Inside single quotes nothing is special but `'`
 * itself, which is closed, escaped and reopened; newlines, tabs, `$(…)`, backticks, `;`, `*` and a
 * leading `-` stay literal. A NUL cannot be passed to a process at all, so it is refused.
 */
export function shq(s: string): string {
  if (s.includes("\0"))
    throw new UsageError(`${JSON.stringify(s)}: a NUL byte cannot be passed to the guest`);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface GuestCommand {
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /**
   * Modules to insmod, in order: `file` is the guest file name in /run/kfunc/mods (kfunc-kit's own,
   * `<index>.ko`), `hostPath` the user's path, used only inside quoted message text.
   */
  insmod: { file: string; hostPath: string }[];
}

/**
 * The per-run PID-1 script, run by the guest's busybox ash (from /run) after switch_root; the command itself is
 * the host's binary, found on $PATH as execvp(3) finds it. The command's stdout/stderr go through FIFOs
 * (so they are pipes, like on the host) to ttyS1/ttyS2 in raw mode; events and the exit code go to ttyS3.
 */
export function runScript(c: GuestCommand): string {
  const env = Object.entries(c.env)
    .map(([k, v]) => `export ${k}=${shq(v)}`)
    .join("\n");
  const insmods = c.insmod
    .map((m, i) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(m.file))
        throw new Error(`guest module file name '${m.file}' is not kfunc-kit's`);
      return `if ! $BB insmod /run/kfunc/mods/${m.file} 2>/run/kfunc/insmod.err; then
  ctl insmod-failed ${i}
  { printf 'kfunc vm: insmod %s failed: %s\\n' ${shq(m.hostPath)} "$(cat /run/kfunc/insmod.err)"; echo "kfunc vm: kernel log:"; $BB dmesg | $BB tail -n 15
    echo "kfunc vm: (insmod resolves no dependencies: pass the modules it needs first, with --insmod)"; } >&2
  finish 1
fi
ctl insmod-ok ${i}`;
    })
    .join("\n");
  return `BB=/run/kfunc/busybox
ctl() { read -r up _ < /proc/uptime; echo "KFUNC $1 $up $2" > /dev/ttyS3; }
finish() {
  # last close of ttyS1/ttyS2 waits until their output has left the UART
  exec 1>/dev/null 2>/dev/null
  # the exit code goes out on a read-write open of ttyS3; the host acks it, so nothing is lost at poweroff
  exec 3<>/dev/ttyS3
  read -r up _ < /proc/uptime
  echo "KFUNC exit $up $1" >&3
  $BB timeout 5 $BB head -n 1 <&3 >/dev/null
  $BB sync
  echo o > /proc/sysrq-trigger
  $BB sleep 10
  $BB poweroff -f
}
ctl started
exec 1>/dev/ttyS1 2>/dev/ttyS2 </dev/null
${env}
${insmods}
cd -- ${shq(c.cwd)} || { printf 'kfunc vm: cannot enter %s in the guest (under /tmp? share it with --share)\\n' ${shq(c.cwd)} >&2; finish 1; }
set -- ${c.command.map(shq).join(" ")}
# found as execvp(3) finds it: a name with a slash as it is, else the first executable file on $PATH; never a
# shell builtin or a busybox applet (this script runs under busybox ash, which prefers its applets)
case $1 in
*/*) cmd=$1 ;;
*)
  cmd=
  IFS=:
  set -f
  for d in $PATH; do
    [ -f "\${d:-.}/$1" ] && [ -x "\${d:-.}/$1" ] && { cmd=\${d:-.}/$1; break; }
  done
  set +f
  unset IFS
  ;;
esac
if [ -z "$cmd" ] || [ ! -e "$cmd" ]; then
  printf 'kfunc vm: %s: command not found in the guest (PATH=%s)\\n' "$1" "$PATH" >&2
  finish 127
fi
$BB cat /run/kfunc/o >/dev/ttyS1 &
p1=$!
$BB cat /run/kfunc/e >/dev/ttyS2 &
p2=$!
ctl command
(name=$1; shift; exec -a "$name" "$cmd" "$@") >/run/kfunc/o 2>/run/kfunc/e
rc=$?
ctl command-done "$rc"
wait $p1 $p2
finish "$rc"
`;
}
