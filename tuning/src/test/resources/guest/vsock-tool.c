/*
 * A tiny vsock client and server for the virtio4j real-guest test (busybox has no vsock support).
 *   vsock-tool connect CID PORT LINE   send LINE\n, then read until end of stream; print the byte count and sum
 *   vsock-tool listen PORT             accept one connection, read a line, answer "guest got: LINE\n", close
 */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n <= 0) return -1;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static int do_connect(unsigned cid, unsigned port, const char *line)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("vsock connect"); return 1; }
    if (send_all(fd, line, strlen(line)) != 0 || send_all(fd, "\n", 1) != 0) { perror("vsock write"); return 1; }
    char buffer[65536];
    unsigned long long total = 0, sum = 0;
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0) { perror("vsock read"); return 1; }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) sum += (unsigned char)buffer[i];
        total += (unsigned long long)n;
    }
    printf("GUEST: received %llu bytes sum %llu\n", total, sum);
    close(fd);
    return 0;
}

static int do_listen(unsigned port)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1) != 0) { perror("vsock listen"); return 1; }
    printf("GUEST: listening on %u\n", port);
    fflush(stdout);
    int client = accept(fd, NULL, NULL);
    if (client < 0) { perror("vsock accept"); return 1; }
    char line[256];
    size_t used = 0;
    while (used < sizeof line - 1) {
        ssize_t n = read(client, line + used, 1);
        if (n <= 0 || line[used] == '\n') break;
        used++;
    }
    line[used] = 0;
    char answer[300];
    snprintf(answer, sizeof answer, "guest got: %s\n", line);
    send_all(client, answer, strlen(answer));
    printf("GUEST: served '%s'\n", line);
    close(client);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "connect") == 0) return do_connect((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argv[4]);
    if (argc == 3 && strcmp(argv[1], "listen") == 0) return do_listen((unsigned)atoi(argv[2]));
    fprintf(stderr, "usage: vsock-tool connect CID PORT LINE | listen PORT\n");
    return 2;
}
