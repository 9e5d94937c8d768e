"""Test wrapper: run a command where pidfd_open and pidfd_send_signal fail.

    no_pidfd.py [--errno ENOSYS|EPERM] COMMAND [ARG...]

Installs a seccomp filter (prctl NO_NEW_PRIVS, then SECCOMP_MODE_FILTER,
through ctypes) that makes both calls fail with ENOSYS -- a kernel older
than 5.3 -- or EPERM -- a seccomp profile that does not list them, as in
Docker engines before 20.10 -- and lets every other call through.  Then
execs COMMAND; the filter holds for it and everything it starts.
"""
import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20    # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15       # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06       # BPF_RET | BPF_K
OFFSET_NR, OFFSET_ARCH = 0, 4   # struct seccomp_data
# Since Linux 5.1 every architecture numbers new system calls alike.
PIDFD_SEND_SIGNAL, PIDFD_OPEN = 424, 434
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def instruction(code, jump_true, jump_false, k):
    return struct.pack("HBBI", code, jump_true, jump_false, k)


def filter_program(error_number):
    arch = AUDIT_ARCH.get(platform.machine())
    if arch is None:
        sys.exit("no_pidfd.py: unknown architecture %s" % platform.machine())
    fail = SECCOMP_RET_ERRNO | error_number
    return [
        instruction(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        # A call through another ABI would carry other numbers: refuse it.
        instruction(BPF_JEQ_K, 1, 0, arch),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        instruction(BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        instruction(BPF_JEQ_K, 2, 0, PIDFD_OPEN),
        instruction(BPF_JEQ_K, 1, 0, PIDFD_SEND_SIGNAL),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        instruction(BPF_RET_K, 0, 0, fail),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install_filter(error_number):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong, ctypes.c_ulong)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    program = filter_program(error_number)
    code = b"".join(program)
    fprog = SockFprog(len(program), ctypes.c_char_p(code))
    libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p,
                           ctypes.c_ulong, ctypes.c_ulong)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main():
    args = sys.argv[1:]
    error_number = errno.ENOSYS
    if args[:1] == ["--errno"]:
        error_number = getattr(errno, args[1])
        args = args[2:]
    install_filter(error_number)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
