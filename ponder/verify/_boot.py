"""Sandbox launcher: run as `python -I -S _boot.py CONFIG_JSON` by `ponder.verify.sandbox`.

It starts as the caller's user (root here), confines itself and then execs the untrusted
program. Standard library only, because it runs under `-S`. Steps, when running as root:

1. unshare new mount, network, PID, IPC and UTS namespaces: no network interface but a
   down loopback; a private mount table; a PID namespace whose init is the untrusted program,
   so when that init dies the kernel kills every process left in the namespace.
2. fresh small tmpfs over the world-writable directories (/tmp, /var/tmp, /dev/shm, /run/lock):
   whatever the program writes there vanishes with the namespace.
3. expose the Python installation if it sits under a directory other users cannot enter
   (here /root/.pyenv under /root, mode 0700): a tmpfs over that directory that holds only a
   bind mount of the installation, which also hides the rest of it (credentials) from the child.
4. fork; the child (PID 1 in the new namespace) sets resource limits, drops to a uid of its own
   (unique per run, so RLIMIT_NPROC counts only this run's processes), asks for SIGKILL when
   the launcher dies, and execs the interpreter on the program. The launcher waits and passes
   on the exit status; killing the launcher (the caller's wall-clock limit) kills the child,
   which tears the namespace down.

Without root, or where the kernel refuses namespaces, steps 1-3 are skipped and the limits are
still applied (see docs/verify.md, "threat model").
"""

import ctypes
import json
import os
import resource
import signal
import stat
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _closed_ancestor(path: str) -> str | None:
    """The topmost ancestor of `path` that other users cannot traverse, or None."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        if os.path.isdir(d) and not os.stat(d).st_mode & stat.S_IXOTH:
            return d
    return None


def _hiding_dir(path: str) -> str | None:
    """The directory whose new mount would hide `path` from the child: a world-writable
    directory that gets a fresh tmpfs (a checkout under /tmp), or a closed ancestor."""
    for d in WRITABLE_DIRS:
        if path == d or path.startswith(d + "/"):
            return d
    return _closed_ancestor(path)


def _isolate(expose: list[str]) -> None:
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks to the host
    # Hold each path the child needs (the interpreter, its libraries) by an O_PATH descriptor
    # before a tmpfs hides it, then bind it back from /proc/self/fd: no staging directory needed.
    held = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in expose
            if (top := _hiding_dir(p)) is not None and p != top}
    for d in WRITABLE_DIRS:
        if os.path.isdir(d) and not os.path.islink(d):
            _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for top in sorted({t for p in held if (t := _closed_ancestor(p)) is not None and p != t}):
        # a closed directory (here /root, mode 0700) holding the interpreter: a tmpfs over it holds
        # only the bind mounts below, which also hides the rest of it (credentials) from the child
        _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for p, fd in held.items():
        os.makedirs(p, 0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", p, None, MS_BIND | MS_REC)
        os.close(fd)


def _limit(cfg: dict) -> None:
    def setl(res, soft, hard=None):
        resource.setrlimit(res, (soft, soft if hard is None else hard))

    setl(resource.RLIMIT_CPU, cfg["cpu_s"], cfg["cpu_s"] + 1)  # SIGXCPU, then SIGKILL
    setl(resource.RLIMIT_AS, cfg["memory_mb"] << 20)
    setl(resource.RLIMIT_FSIZE, cfg["file_mb"] << 20)
    setl(resource.RLIMIT_NOFILE, cfg["max_files"])
    setl(resource.RLIMIT_NPROC, cfg["max_procs"])  # root ignores it, hence the uid drop
    setl(resource.RLIMIT_CORE, 0)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    # Die with the caller (e.g. a verifier worker killed for hanging), taking the namespace along.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != cfg["parent"]:  # the caller died before the line above
        os._exit(125)
    root = os.geteuid() == 0
    isolated = False
    if root and cfg["isolate"]:
        try:
            _isolate(cfg["expose"])
            isolated = True
        except OSError as e:  # e.g. a container without CAP_SYS_ADMIN: limits only
            if cfg["require_isolation"]:
                print(f"ponder sandbox: cannot isolate: {e}", file=sys.stderr)
                os._exit(125)
    if isolated:  # work in the namespace's own tmpfs: size-capped, gone with the namespace
        with open(cfg["script"], "rb") as f:
            source = f.read()
        os.mkdir("/tmp/work", 0o700)
        os.chdir("/tmp/work")
        with open(cfg["script"], "wb") as f:
            f.write(source)
    pid = os.fork() if isolated else 0  # the fork makes the child PID 1 of the new namespace
    if pid == 0:
        try:
            if root:
                uid = cfg["uid"]
                os.chown(".", uid, uid)
                os.chown(cfg["script"], uid, uid)
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            _limit(cfg)
            # after setuid, which clears the death signal; without a namespace this is the
            # launcher itself, so it still dies with the caller
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            os.execve(cfg["python"], cfg["argv"], cfg["env"])
        except BaseException as e:  # noqa: BLE001 - report and never fall back into the launcher
            print(f"ponder sandbox: cannot start: {e}", file=sys.stderr)
            os._exit(125)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # pass a signal death on as the same signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


if __name__ == "__main__":
    main()
