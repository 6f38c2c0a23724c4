/*
 * The kernel's side of the pipe benchmarks: the loop the JavaScript side
 * runs, in C, so ratios compare like with like.
 *   pipebench SIZE N    N times: write SIZE bytes into an empty pipe, then read them back
 * Prints the nanoseconds per write + read pair. Both ends are non-blocking
 * (as writeSync / readInto never sleep); SIZE is at most the pipe's 65536.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: pipebench SIZE N\n");
    return 2;
  }
  size_t size = (size_t)atol(argv[1]);
  long n = atol(argv[2]);
  if (size == 0 || size > 65536) {
    fprintf(stderr, "pipebench: SIZE must be 1..65536\n");
    return 2;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK) < 0) {
    perror("pipe2");
    return 1;
  }
  char *out = malloc(size), *in = malloc(size);
  memset(out, 'x', size);
  double start = now_ns();
  for (long i = 0; i < n; i++) {
    if (write(fds[1], out, size) != (ssize_t)size) { perror("write"); return 1; }
    size_t got = 0;
    while (got < size) {
      ssize_t r = read(fds[0], in + got, size - got);
      if (r <= 0) { perror("read"); return 1; }
      got += (size_t)r;
    }
  }
  double per = (now_ns() - start) / n;
  close(fds[0]);
  close(fds[1]);
  printf("%.1f\n", per);
  return 0;
}
