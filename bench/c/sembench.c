/*
 * The kernel's side of the semaphore benchmark: semop V (+1) then P (-1) on
 * one semaphore of a private set, N times, as the JavaScript side does.
 *   sembench N
 * Prints the nanoseconds per V+P pair. The set is removed at the end.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: sembench N\n");
    return 2;
  }
  long n = atol(argv[1]);
  int s = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (s < 0) {
    perror("semget");
    return 1;
  }
  struct sembuf v = { 0, 1, 0 }, p = { 0, -1, 0 };
  double start = now_ns();
  for (long i = 0; i < n; i++) {
    if (semop(s, &v, 1) < 0 || semop(s, &p, 1) < 0) {
      perror("semop");
      semctl(s, 0, IPC_RMID);
      return 1;
    }
  }
  double per = (now_ns() - start) / n;
  semctl(s, 0, IPC_RMID);
  printf("%.1f\n", per);
  return 0;
}
