/* What write-behind saves the kernel: M files written round-robin in 190 KB writes, either
 * plain or with posix_fadvise(DONTNEED) over the previous and current 1 MiB window (what
 * tapedeck_recorder::files::PartFile does). Prints the process's system time.
 *
 *   cc -O2 -o /tmp/writeback bench/writeback.c
 *   mkdir -p DIR && /tmp/writeback DIR 0 3072 128 && rm -f DIR/f*   # plain, 3 GB, 128 files
 *   mkdir -p DIR && /tmp/writeback DIR 1 3072 128 && rm -f DIR/f*   # with the advice
 *
 * DIR must be on a disk file system (not tmpfs). Results: bench/RESULTS.md, session 4. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s DIR ADVISE(0|1) MEGABYTES FILES\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int advise = atoi(argv[2]);
    long total = atol(argv[3]) << 20, window = 1 << 20;
    int files = atoi(argv[4]);
    if (files < 1 || files > 1024) {
        fprintf(stderr, "FILES must be 1..1024\n");
        return 2;
    }
    size_t chunk = 190 * 1024;
    char *buf = malloc(chunk);
    memset(buf, 7, chunk);
    int *fd = calloc(files, sizeof *fd);
    long *off = calloc(files, sizeof *off), *started = calloc(files, sizeof *off),
         *dropped = calloc(files, sizeof *off);
    char path[4096];
    for (int i = 0; i < files; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd[i] < 0) {
            perror(path);
            return 1;
        }
    }
    struct timeval t0, t1;
    gettimeofday(&t0, 0);
    for (long done = 0; done < total;) {
        for (int i = 0; i < files && done < total; i++) {
            if (write(fd[i], buf, chunk) != (ssize_t)chunk) {
                perror("write");
                return 1;
            }
            off[i] += chunk;
            done += chunk;
            if (advise && off[i] - started[i] >= window) {
                posix_fadvise(fd[i], dropped[i], off[i] - dropped[i], POSIX_FADV_DONTNEED);
                dropped[i] = started[i];
                started[i] = off[i];
            }
        }
    }
    for (int i = 0; i < files; i++) close(fd[i]);
    gettimeofday(&t1, 0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("advise %d, %d files, %ld MB: wall %.2f s, system %.2f s\n", advise, files, total >> 20,
           (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6,
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    return 0;
}
