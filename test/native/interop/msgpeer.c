/*
 * msgpeer: the C side of the interop tests (test/native/interop.test.ts).
 * It speaks the same protocol as msgpeer.py, over a System V queue that the
 * test (Node, native backend) creates and removes.
 *
 *   msgpeer serve QREF COUNT [MSGTYP [REPLYTYPE]]
 *       COUNT times: msgrcv(MSGTYP, default 1), blocking; answer with a
 *       message of REPLYTYPE (default 2) whose text is
 *       "<our pid> <type received> " followed by the request's bytes reversed.
 *   msgpeer send QREF TYPE:SIZE...
 *       Wait for a line on stdin, then msgsnd each message in order, blocking.
 *       Byte i of a message of type T is (T & 0xff) + 13 * i, modulo 256.
 *
 * QREF is id=MSQID or key=KEY (decimal or 0x hex). Types are C longs.
 * stdout, one line each: "ready <pid> <msqid>" once the queue is open (for
 * send: before waiting on stdin); "done" at the end. A failed call prints
 * "error <call> <ERRNO NAME> <errno>" and exits 2; bad arguments exit 64.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

/* kernel.msgmax's default: the largest text the protocol moves. */
#define TEXT_MAX 8192

struct message {
	long mtype;
	unsigned char mtext[TEXT_MAX];
};

static _Noreturn void usage(const char *why)
{
	fprintf(stderr, "msgpeer: %s\nusage: msgpeer serve QREF COUNT [MSGTYP [REPLYTYPE]]\n"
			"       msgpeer send QREF TYPE:SIZE...\n", why);
	exit(64);
}

/* The errnos msgget, msgsnd and msgrcv can give (msgop(2), msgget(2)); by table, not strerrorname_np, which only glibc has. */
#define NAMED(e) { e, #e }
static const struct { int no; const char *name; } ERRNOS[] = {
	NAMED(E2BIG), NAMED(EACCES), NAMED(EAGAIN), NAMED(EEXIST), NAMED(EFAULT), NAMED(EIDRM), NAMED(EINTR),
	NAMED(EINVAL), NAMED(ENOENT), NAMED(ENOMEM), NAMED(ENOMSG), NAMED(ENOSPC), NAMED(ENOSYS), NAMED(EPERM),
};

static _Noreturn void failed(const char *call)
{
	int e = errno;
	const char *name = "E?";
	for (size_t i = 0; i < sizeof ERRNOS / sizeof ERRNOS[0]; i++)
		if (ERRNOS[i].no == e)
			name = ERRNOS[i].name;
	printf("error %s %s %d\n", call, name, e);
	exit(2);
}

/* A whole decimal or 0x-hex long, or usage(): a silently clipped type would test nothing. */
static long parse_long(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0')
		usage(what);
	return v;
}

static int open_queue(const char *qref)
{
	if (strncmp(qref, "id=", 3) == 0) {
		long id = parse_long(qref + 3, "bad msqid");
		if (id < 0 || id > INT_MAX)
			usage("msqid out of range");
		return (int)id;
	}
	if (strncmp(qref, "key=", 4) == 0) {
		long key = parse_long(qref + 4, "bad key");
		/* key_t is an int; keys above INT_MAX are the same 32 bits read unsigned. */
		if (key < INT_MIN || key > UINT_MAX)
			usage("key out of range");
		int id = msgget((key_t)key, 0);
		if (id < 0)
			failed("msgget");
		return id;
	}
	usage("QREF must be id=N or key=N");
}

static int serve(int id, long count, long msgtyp, long replytype)
{
	static struct message req, rep;
	const pid_t pid = getpid();
	for (long n = 0; n < count; n++) {
		ssize_t len = msgrcv(id, &req, TEXT_MAX, msgtyp, 0);
		if (len < 0)
			failed("msgrcv");
		int head = snprintf((char *)rep.mtext, TEXT_MAX, "%d %ld ", (int)pid, req.mtype);
		if ((size_t)head + (size_t)len > TEXT_MAX) {
			errno = E2BIG; /* the answer would pass msgmax: say so rather than cut it */
			failed("reply");
		}
		for (ssize_t i = 0; i < len; i++)
			rep.mtext[head + i] = req.mtext[len - 1 - i];
		rep.mtype = replytype;
		if (msgsnd(id, &rep, (size_t)head + (size_t)len, 0) < 0)
			failed("msgsnd");
	}
	return 0;
}

struct spec {
	long type;
	long size;
};

/* Every TYPE:SIZE is checked before anything is sent: a bad one sends nothing. */
static struct spec parse_spec(char *arg)
{
	char *colon = strchr(arg, ':');
	if (colon == NULL)
		usage("a message is TYPE:SIZE");
	*colon = '\0';
	struct spec s = { parse_long(arg, "bad TYPE"), parse_long(colon + 1, "bad SIZE") };
	if (s.size < 0 || s.size > TEXT_MAX)
		usage("SIZE must be 0..8192");
	return s;
}

static int send_all(int id, int n, const struct spec *specs)
{
	static struct message msg;
	char line[64];
	/* The test says go once its own receive sleeps in the kernel. */
	if (fgets(line, sizeof line, stdin) == NULL)
		usage("stdin closed before the go line");
	for (int s = 0; s < n; s++) {
		unsigned long seed = (unsigned long)specs[s].type & 0xff;
		for (long i = 0; i < specs[s].size; i++)
			msg.mtext[i] = (unsigned char)((seed + 13ul * (unsigned long)i) & 0xff);
		msg.mtype = specs[s].type;
		if (msgsnd(id, &msg, (size_t)specs[s].size, 0) < 0)
			failed("msgsnd");
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* The test reads our lines as they come, through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		usage("missing arguments");
	const char *mode = argv[1];
	if (strcmp(mode, "serve") != 0 && strcmp(mode, "send") != 0)
		usage("mode must be serve or send");
	int id = open_queue(argv[2]);
	int rc;
	if (strcmp(mode, "serve") == 0) {
		if (argc < 4 || argc > 6)
			usage("serve takes QREF COUNT [MSGTYP [REPLYTYPE]]");
		long count = parse_long(argv[3], "bad COUNT");
		long msgtyp = argc > 4 ? parse_long(argv[4], "bad MSGTYP") : 1;
		long replytype = argc > 5 ? parse_long(argv[5], "bad REPLYTYPE") : 2;
		printf("ready %d %d\n", (int)getpid(), id);
		rc = serve(id, count, msgtyp, replytype);
	} else {
		int n = argc - 3;
		struct spec *specs = calloc((size_t)n + 1, sizeof *specs);
		if (specs == NULL)
			failed("calloc");
		for (int s = 0; s < n; s++)
			specs[s] = parse_spec(argv[3 + s]);
		printf("ready %d %d\n", (int)getpid(), id);
		rc = send_all(id, n, specs);
		free(specs);
	}
	printf("done\n");
	return rc;
}
