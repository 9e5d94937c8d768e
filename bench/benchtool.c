/* Helper programs for bench/run.py, one binary, chosen by argv[1].
 * Compiled with gcc into a temporary directory at bench time.
 *
 *   child FD_PATH        the init's child: blocks USR1/USR2/HUP, waits in
 *                        sigwaitinfo.  USR1: write CLOCK_MONOTONIC (8 bytes,
 *                        ns) to FD_PATH (a FIFO).  USR2: count it.  HUP: write
 *                        the USR2 count (8 bytes).  First writes 8 zero bytes
 *                        ("ready").  TERM keeps its default action.
 *   pingpong PID FD N GAP_US
 *                        N times: t0 = CLOCK_MONOTONIC, kill(PID, SIGUSR1),
 *                        read the child's 8-byte timestamp from FD; print
 *                        t1 - t0 in ns, one per line.  One signal in flight
 *                        at a time, so nothing coalesces.
 *   blast PID N SIG      kill(PID, SIG) N times as fast as possible.
 *   storm N OUTFILE      run as the init's child: make N orphans that are
 *                        re-parented to PID 1, release them all at once
 *                        (they _exit), and write to OUTFILE the ns until
 *                        /proc/1/task/1/children lists only this process.
 *   nsrun DELAY_US TIMEOUT_MS CMD...
 *                        what `unshare --pid --fork --mount-proc CMD` does,
 *                        plus: DELAY_US after the exec of CMD (a close-on-exec
 *                        pipe tells the moment) send SIGTERM to it, then wait
 *                        up to TIMEOUT_MS.  Prints "delivered STATUS MS" or
 *                        "lost" (then SIGKILLs it, which ends the namespace).
 *   maskwatch TIMEOUT_MS CMD...
 *                        like nsrun, but polls /proc/PID/status every 50 us
 *                        and prints "masked MS": exec to SIGTERM blocked
 *                        (or the init waiting in rt_sigtimedwait).
 *   soakchild            child for bench/soak.py: counts every signal it
 *                        gets, makes a short-lived orphan every 50 ms; on
 *                        TERM prints the counts to stderr and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "benchtool: %s: %s\n", what, strerror(errno));
    exit(99);
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n, int timeout_ms)
{
    char *p = buf;
    while (n) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int cmd_child(int argc, char **argv)
{
    if (argc < 3) return 2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = open(argv[2], O_WRONLY);
    if (fd < 0) die("open fifo");
    uint64_t v = 0, count = 0;
    if (write_all(fd, &v, 8)) die("write ready");
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGUSR1) {
            v = now_ns();
            if (write_all(fd, &v, 8)) die("write");
        } else if (sig == SIGUSR2) {
            count++;
        } else if (sig == SIGHUP) {
            if (write_all(fd, &count, 8)) die("write");
        }
    }
}

static int cmd_pingpong(int argc, char **argv)
{
    if (argc < 6) return 2;
    pid_t pid = (pid_t)atoi(argv[2]);
    int fd = atoi(argv[3]);
    long n = atol(argv[4]);
    long gap_us = atol(argv[5]);
    uint64_t *out = calloc((size_t)n, sizeof *out);
    if (!out) die("calloc");
    struct timespec gap = { gap_us / 1000000, (gap_us % 1000000) * 1000 };
    long i;
    for (i = 0; i < n; i++) {
        uint64_t t1, t0 = now_ns();
        if (kill(pid, SIGUSR1)) die("kill");
        if (read_all(fd, &t1, 8, 5000)) {
            fprintf(stderr, "benchtool: no answer to signal %ld\n", i);
            break;
        }
        out[i] = t1 - t0;
        if (gap_us) nanosleep(&gap, NULL);
    }
    for (long j = 0; j < i; j++) printf("%llu\n", (unsigned long long)out[j]);
    return i == n ? 0 : 1;
}

static int cmd_blast(int argc, char **argv)
{
    if (argc < 5) return 2;
    pid_t pid = (pid_t)atoi(argv[2]);
    long n = atol(argv[3]), ok = 0;
    int sig = atoi(argv[4]);
    for (long i = 0; i < n; i++)
        if (kill(pid, sig) == 0) ok++;
    printf("%ld\n", ok);
    return ok == n ? 0 : 1;
}

static long count_children_of_1(char *buf, size_t cap)
{
    int fd = open("/proc/1/task/1/children", O_RDONLY);
    if (fd < 0) return -1;
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len)) > 0) len += (size_t)r;
    close(fd);
    long n = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == ' ') n++;
    return n; /* each pid is followed by a space */
}

static int cmd_storm(int argc, char **argv)
{
    if (argc < 4) return 2;
    long n = atol(argv[2]);
    int p[2];
    if (pipe(p)) die("pipe");
    pid_t m = fork();
    if (m < 0) die("fork");
    if (m == 0) {
        close(p[1]);
        for (long i = 0; i < n; i++) {
            pid_t c = fork();
            if (c < 0) { perror("benchtool: storm fork"); _exit(1); }
            if (c == 0) {
                char ch;
                while (read(p[0], &ch, 1) < 0 && errno == EINTR) ;
                _exit(0);
            }
        }
        _exit(0);
    }
    close(p[0]);
    int st;
    waitpid(m, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "benchtool: storm parent failed\n");
        return 1;
    }
    size_t cap = (size_t)(n + 16) * 12 + 4096;
    char *buf = malloc(cap);
    if (!buf) die("malloc");
    long before = count_children_of_1(buf, cap);
    uint64_t t0 = now_ns();
    close(p[1]); /* every orphan reads EOF and exits: n zombies for PID 1 */
    struct timespec pause = { 0, 200000 };
    uint64_t t1;
    for (;;) {
        long c = count_children_of_1(buf, cap);
        t1 = now_ns();
        if (c <= 1) break;
        if (t1 - t0 > 120000000000ull) { fprintf(stderr, "benchtool: storm timeout\n"); return 1; }
        nanosleep(&pause, NULL);
    }
    FILE *f = fopen(argv[3], "w");
    if (!f) die("fopen");
    fprintf(f, "%llu %ld\n", (unsigned long long)(t1 - t0), before);
    fclose(f);
    return 0;
}

/* unshare --pid --fork --mount-proc argv[0..]: returns the child's pid once
 * it has exec'd (the close-on-exec pipe reads EOF); *t_exec = that moment. */
static pid_t spawn_pid1(char **cmd, uint64_t *t_exec)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC)) die("pipe2");
    if (unshare(CLONE_NEWPID)) die("unshare");
    pid_t c = fork();
    if (c < 0) die("fork");
    if (c == 0) {
        close(p[0]);
        /* A mount namespace of the child's own: the parent keeps the host /proc. */
        if (unshare(CLONE_NEWNS)) die("unshare mount");
        if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) die("mount private");
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) die("mount proc");
        execvp(cmd[0], cmd);
        die("exec");
    }
    close(p[1]);
    char ch;
    while (read(p[0], &ch, 1) < 0 && errno == EINTR) ;  /* EOF: exec happened */
    *t_exec = now_ns();
    close(p[0]);
    return c;
}

static int cmd_nsrun(int argc, char **argv)
{
    if (argc < 5) return 2;
    long delay_us = atol(argv[2]);
    long timeout_ms = atol(argv[3]);
    uint64_t t_exec;
    pid_t c = spawn_pid1(argv + 4, &t_exec);
    uint64_t t_kill = t_exec + (uint64_t)delay_us * 1000u;
    struct timespec ts = { (time_t)(t_kill / 1000000000u), (long)(t_kill % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) ;
    uint64_t t_sent = now_ns();
    kill(c, SIGTERM);
    struct timespec pause = { 0, 500000 };
    for (;;) {
        int st;
        pid_t r = waitpid(c, &st, WNOHANG);
        uint64_t t = now_ns();
        if (r == c) {
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            printf("delivered %d %.3f %.3f\n", code, (t - t_sent) / 1e6, (t_sent - t_exec) / 1e6);
            return 0;
        }
        if (t - t_sent > (uint64_t)timeout_ms * 1000000u) break;
        nanosleep(&pause, NULL);
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    printf("lost 0 0 %.3f\n", (t_sent - t_exec) / 1e6);
    return 0;
}

/* Time from exec of CMD (as PID 1 of a new namespace) until a TERM sent to it
 * would be kept, not dropped: SIGTERM shows in its SigBlk, or it sleeps in
 * rt_sigtimedwait (sigwait/sigwaitinfo/sigtimedwait: while it waits, the
 * kernel moves the waited-for signals out of SigBlk into real_blocked, which
 * /proc does not show; every init here waits for its whole blocked set). */
static int cmd_maskwatch(int argc, char **argv)
{
    if (argc < 4) return 2;
    long timeout_ms = atol(argv[2]);
    uint64_t t_exec, t = 0;
    pid_t c = spawn_pid1(argv + 3, &t_exec);
    char path[64], spath[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)c);
    snprintf(spath, sizeof spath, "/proc/%d/syscall", (int)c);
    struct timespec pause = { 0, 50000 };
    int found = 0;
    for (;;) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) break;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        t = now_ns();
        if (n <= 0) break;
        buf[n] = 0;
        char *blk = strstr(buf, "SigBlk:");
        if (blk) {
            unsigned long long mask = strtoull(blk + 7, NULL, 16);
            if (mask & (1ull << (SIGTERM - 1))) { found = 1; break; }
        }
        fd = open(spath, O_RDONLY);
        if (fd >= 0) {
            n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0) {
                buf[n] = 0;
                if (atol(buf) == SYS_rt_sigtimedwait) { found = 1; break; }
            }
        }
        if (t - t_exec > (uint64_t)timeout_ms * 1000000u) break;
        nanosleep(&pause, NULL);
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    if (found) printf("masked %.3f\n", (t - t_exec) / 1e6);
    else printf("never\n");
    return 0;
}

static int cmd_soakchild(void)
{
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGKILL);
    sigdelset(&set, SIGSTOP);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGABRT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    static unsigned long counts[65];
    uint64_t next = now_ns();
    unsigned long orphans = 0;
    for (;;) {
        struct timespec to = { 0, 50000000 };
        int sig = sigtimedwait(&set, NULL, &to);
        if (sig == SIGTERM) break;
        if (sig > 0 && sig < 65) counts[sig]++;
        if (sig == SIGCHLD) while (waitpid(-1, NULL, WNOHANG) > 0) ;
        if (now_ns() >= next) {
            next = now_ns() + 50000000u;
            pid_t m = fork();
            if (m == 0) {
                if (fork() == 0) _exit(0); /* orphan: PID 1 must reap it */
                _exit(0);
            }
            if (m > 0) { waitpid(m, NULL, 0); orphans++; }
        }
    }
    fprintf(stderr, "soakchild: orphans %lu", orphans);
    for (int s = 1; s < 65; s++)
        if (counts[s] && s != SIGCHLD) fprintf(stderr, " sig%d=%lu", s, counts[s]);
    fprintf(stderr, "\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "child")) return cmd_child(argc, argv);
    if (!strcmp(argv[1], "pingpong")) return cmd_pingpong(argc, argv);
    if (!strcmp(argv[1], "blast")) return cmd_blast(argc, argv);
    if (!strcmp(argv[1], "storm")) return cmd_storm(argc, argv);
    if (!strcmp(argv[1], "nsrun")) return cmd_nsrun(argc, argv);
    if (!strcmp(argv[1], "maskwatch")) return cmd_maskwatch(argc, argv);
    if (!strcmp(argv[1], "soakchild")) return cmd_soakchild();
    fprintf(stderr, "benchtool: unknown command %s\n", argv[1]);
    return 2;
}
