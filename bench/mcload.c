/* mcload: a small memcached text-protocol load client for bench/run.sh.
 *
 *   mcload HOST PORT THREADS SECONDS persist|connect|udp
 *
 * persist: each thread keeps one TCP connection and loops "get k" -> "VALUE ... END".
 *          Every packet after the handshake is conntrack ESTABLISHED.
 * connect: each thread loops connect + "get k" + close (SO_LINGER 0: RST, no TIME_WAIT, so
 *          the client never runs out of ports). Every request's SYN is a NEW packet that walks
 *          the firewall chain down to the matching allow rule.
 * udp:     each thread loops one UDP "get k" (8-byte frame header, memcached -U) and its answer,
 *          from one socket: every packet after the first is conntrack ESTABLISHED, so what a
 *          request pays in the firewall is the rules before the established accept (the
 *          reverse-path check among them).
 * "set" stores the key first (run once). Prints "ops=<n> errors=<n> ops_per_s=<x> cpu_us=<x>",
 * cpu_us = this process's user+sys time (getrusage), which includes the kernel work done on
 * its behalf: on a veth pair, the receive path (netfilter INPUT hook included) of the
 * packets it sends mostly runs in softirq on its own CPU, in its own context.
 * Sockets have 2 s timeouts so a dropped packet costs an error, never a hang. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server;
static double seconds;
static int connect_mode, udp_mode;
static const char request[] = "get mgbench\r\n";

struct result { unsigned long ops, errors; };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_conn(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (connect(fd, (struct sockaddr*)&server, sizeof server) != 0) { close(fd); return -1; }
    return fd;
}

/* Sends one get and reads the reply up to "END\r\n". 0 on success. */
static int one_get(int fd) {
    if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof request - 1)) return -1;
    char buf[4096];
    size_t have = 0;
    for (int reads = 0; reads < 64; ++reads) {
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = 0;
        if (have >= 5 && memcmp(buf + have - 5, "END\r\n", 5) == 0) return 0;
        if (have >= sizeof buf - 1) return -1;
    }
    return -1;
}

static int open_udp(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr*)&server, sizeof server) != 0) { close(fd); return -1; }
    return fd;
}

/* One UDP get: frame header (request id, sequence 0, 1 datagram) + the request; the value
 * (100 bytes) fits one answer datagram, which must carry the same request id. 0 on success. */
static int one_udp_get(int fd, unsigned short id) {
    char out[8 + sizeof request - 1] = {(char)(id >> 8), (char)id, 0, 0, 0, 1, 0, 0};
    memcpy(out + 8, request, sizeof request - 1);
    if (send(fd, out, sizeof out, 0) != (ssize_t)sizeof out) return -1;
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 13 || (unsigned char)buf[0] != (unsigned char)(id >> 8) ||
        (unsigned char)buf[1] != (unsigned char)id || memcmp(buf + n - 5, "END\r\n", 5) != 0)
        return -1;
    return 0;
}

static void* udp_worker(void* arg) {
    struct result* r = arg;
    const double end = now() + seconds;
    int fd = open_udp();
    unsigned short id = 0;
    while (fd >= 0 && now() < end) {
        if (one_udp_get(fd, ++id) == 0) r->ops++; else r->errors++;
    }
    if (fd >= 0) close(fd); else r->errors++;
    return NULL;
}

static void* worker(void* arg) {
    struct result* r = arg;
    const double end = now() + seconds;
    int fd = -1;
    while (now() < end) {
        if (fd < 0 && (fd = open_conn()) < 0) { r->errors++; usleep(1000); continue; }
        if (one_get(fd) == 0) r->ops++; else { r->errors++; close(fd); fd = -1; continue; }
        if (connect_mode) { close(fd); fd = -1; }
    }
    if (fd >= 0) close(fd);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: mcload HOST PORT THREADS SECONDS persist|connect|udp | mcload HOST PORT set\n");
        return 2;
    }
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
    if (strcmp(argv[3], "set") == 0) {
        int fd = open_conn();
        static const char set[] = "set mgbench 0 0 100\r\n"
            "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n";
        char buf[64];
        if (fd < 0 || send(fd, set, sizeof set - 1, 0) != (ssize_t)(sizeof set - 1) ||
            recv(fd, buf, sizeof buf, 0) < 8 || memcmp(buf, "STORED", 6) != 0) {
            fprintf(stderr, "mcload: set failed\n");
            return 1;
        }
        close(fd);
        return 0;
    }
    if (argc != 6) return 2;
    int threads = atoi(argv[3]);
    seconds = atof(argv[4]);
    connect_mode = strcmp(argv[5], "connect") == 0;
    udp_mode = strcmp(argv[5], "udp") == 0;
    if (threads < 1 || threads > 256 || seconds <= 0) return 2;
    pthread_t tid[256];
    struct result res[256];
    memset(res, 0, sizeof res);
    const double start = now();
    for (int i = 0; i < threads; ++i) pthread_create(&tid[i], NULL, udp_mode ? udp_worker : worker, &res[i]);
    unsigned long ops = 0, errors = 0;
    for (int i = 0; i < threads; ++i) { pthread_join(tid[i], NULL); ops += res[i].ops; errors += res[i].errors; }
    const double took = now() - start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                          (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    printf("ops=%lu errors=%lu ops_per_s=%.0f cpu_us=%.0f\n", ops, errors, (double)ops / took,
           cpu_us);
    return 0;
}
