"""Mount a store daemonized in a private mount namespace whose /dev/log is
under our control, and report where the daemon's messages went.

    unshare -m --propagation private python3 syslog_ns.py SPEC.json

SPEC: {"syslog": "listen" | "none", "stderr": "pipe" | "file",
       "mount": [argv of `ragstore mount ...`], "mnt": MOUNTPOINT,
       "workdir": a scratch directory}

With "listen" a datagram socket on /dev/log plays the syslog daemon; with
"none" nothing listens there, as in a container.  The daemon's stderr is a
pipe (what a caller that captures output gives it) or a regular file.  The
scenario: mount, write an unknown command to .ragstore/control (the daemon
logs a warning), unmount, wait for the daemon to exit.  Prints one JSON
object: mount_rc, mount_stderr (what the mount command's stderr got, all of
it once the daemon is gone), hung (the mount command did not return),
syslog (the datagrams received), daemon_exited.

Only this process and its children see the namespace: the real /dev is
left alone (a tmpfs replaces /dev here, with the few devices the daemon
needs bound into it).
"""
import json
import os
import socket
import subprocess
import sys
import time

DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "fuse")


def sh(*args):
    subprocess.run(args, check=True)


def private_dev(workdir, listen):
    old = os.path.join(workdir, "olddev")
    os.makedirs(old, exist_ok=True)
    sh("mount", "--bind", "/dev", old)
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/dev")
    for d in DEVICES:
        if os.path.exists(os.path.join(old, d)):
            open("/dev/" + d, "w").close()
            sh("mount", "--bind", os.path.join(old, d), "/dev/" + d)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, "/dev/" + name)
    if not listen:
        return None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("/dev/log")
    os.chmod("/dev/log", 0o666)
    s.setblocking(False)
    return s


def daemon_pids(mnt):
    mnt = os.path.realpath(mnt)
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == "ragstore" and "mount" in argv and \
                any(os.path.realpath(a) == mnt for a in argv if a.startswith("/")):
            out.append(int(d))
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def drain(sock, into):
    while sock is not None:
        try:
            into.append(sock.recv(65536).decode(errors="replace"))
        except BlockingIOError:
            return


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    sock = private_dev(spec["workdir"], spec["syslog"] == "listen")
    errpath = os.path.join(spec["workdir"], "mount.stderr")
    report = {"hung": False, "syslog": [], "daemon_exited": False}
    err = open(errpath, "w+")
    if spec["stderr"] == "file":
        p = subprocess.Popen(spec["mount"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        pipe = None
    else:
        p = subprocess.Popen(spec["mount"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pipe = p.stderr
    try:
        report["mount_rc"] = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        report["hung"] = True
        p.kill()
        report["mount_rc"] = p.wait()
    pids = daemon_pids(spec["mnt"])
    if report["mount_rc"] == 0:
        try:
            fd = os.open(os.path.join(spec["mnt"], ".ragstore", "control"), os.O_WRONLY)
            try:
                os.write(fd, b"frobnicate")
            except OSError:
                pass
            finally:
                os.close(fd)
        finally:
            subprocess.run(["umount", spec["mnt"]])
    deadline = time.time() + 30
    while pids and any(alive(q) for q in pids) and time.time() < deadline:
        drain(sock, report["syslog"])
        time.sleep(0.05)
    report["daemon_exited"] = not any(alive(q) for q in pids)
    for q in pids:
        if alive(q):
            os.kill(q, 9)
    drain(sock, report["syslog"])
    if pipe is not None:
        # Every holder of the pipe is gone now, so this ends.
        report["mount_stderr"] = pipe.read().decode(errors="replace")
    else:
        err.seek(0)
        report["mount_stderr"] = err.read()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
