/*
 * The kernel's side of the message-queue benchmarks: the same loops the
 * JavaScript side runs, in C, so ratios compare like with like.
 *   msgbench pair N        msgsnd + msgrcv of 64 bytes, N times, on an empty queue
 *   msgbench bytype K N    K messages of type 2 queued; N times send and receive type 1
 * Prints the nanoseconds per pair. The queue is private and removed at the end.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>

struct msg { long mtype; char text[64]; };

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int fail(const char *what, int q) {
  perror(what);
  if (q >= 0) msgctl(q, IPC_RMID, NULL);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: msgbench pair N | msgbench bytype K N\n");
    return 2;
  }
  int bytype = strcmp(argv[1], "bytype") == 0;
  long queued = bytype ? atol(argv[2]) : 0;
  long n = atol(argv[bytype ? 3 : 2]);
  size_t size = bytype ? 1 : 64;
  int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (q < 0) return fail("msgget", -1);
  struct msg m = { .mtype = 2 };
  memset(m.text, 'x', sizeof m.text);
  for (long i = 0; i < queued; i++)
    if (msgsnd(q, &m, size, IPC_NOWAIT) < 0) return fail("msgsnd (fill)", q);
  long want = bytype ? 1 : 0;
  double start = now_ns();
  for (long i = 0; i < n; i++) {
    m.mtype = 1;
    if (msgsnd(q, &m, size, IPC_NOWAIT) < 0) return fail("msgsnd", q);
    if (msgrcv(q, &m, sizeof m.text, want, IPC_NOWAIT) < 0) return fail("msgrcv", q);
  }
  double per = (now_ns() - start) / n;
  msgctl(q, IPC_RMID, NULL);
  printf("%.1f\n", per);
  return 0;
}
