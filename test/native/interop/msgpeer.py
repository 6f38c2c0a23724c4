"""msgpeer.py: the Python side of the interop tests (test/native/interop.test.ts).

Speaks msgpeer.c's protocol through the sysv_ipc module (Debian's
python3-sysv-ipc, so run it with /usr/bin/python3):

  msgpeer.py serve key=KEY COUNT [MSGTYP [REPLYTYPE]]
      COUNT times: receive(MSGTYP, default 1), blocking; answer with a message
      of REPLYTYPE (default 2) whose text is "<our pid> <type received> "
      followed by the request's bytes reversed.
  msgpeer.py send key=KEY TYPE:SIZE...
      Wait for a line on stdin, then send each message in order, blocking.
      Byte i of a message of type T is (T & 0xff) + 13 * i, modulo 256.

Only key=KEY: sysv_ipc opens a queue by key, never by id. sysv_ipc 1.0
takes the type of send() and receive() as a C int (OverflowError beyond
2^31 - 1), though it reports a received type as the full C long: MSGTYP,
REPLYTYPE and TYPE must fit an int here. stdout, one line
each: "ready <pid> <msqid>" once the queue is open; "done" at the end. A
failed call prints "error <call> <exception class>" and exits 2; bad
arguments exit 64.
"""

import os
import sys

import sysv_ipc

# kernel.msgmax's default. sysv_ipc's receive buffer defaults to 2048 bytes.
TEXT_MAX = 8192
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def usage(why):
    print(f"msgpeer.py: {why}\nusage: msgpeer.py serve key=KEY COUNT [MSGTYP [REPLYTYPE]]\n"
          "       msgpeer.py send key=KEY TYPE:SIZE...", file=sys.stderr)
    sys.exit(64)


def failed(call, error):
    print(f"error {call} {type(error).__name__}", flush=True)
    sys.exit(2)


def parse_int(text, what):
    try:
        return int(text, 0)
    except ValueError:
        usage(what)


def parse_type(text, what):
    value = parse_int(text, what)
    if not INT_MIN <= value <= INT_MAX:
        usage(f"{what}: sysv_ipc takes types as a C int")
    return value


def parse_spec(arg):
    type_text, colon, size_text = arg.partition(":")
    if not colon:
        usage("a message is TYPE:SIZE")
    mtype, size = parse_type(type_text, "bad TYPE"), parse_int(size_text, "bad SIZE")
    if not 0 <= size <= TEXT_MAX:
        usage("SIZE must be 0..8192")
    return mtype, size


def pattern(mtype, size):
    seed = mtype & 0xFF
    return bytes((seed + 13 * i) & 0xFF for i in range(size))


def serve(queue, count, msgtyp, replytype):
    pid = os.getpid()
    for _ in range(count):
        try:
            text, mtype = queue.receive(True, msgtyp)
        except sysv_ipc.Error as error:
            failed("receive", error)
        reply = f"{pid} {mtype} ".encode() + text[::-1]
        if len(reply) > TEXT_MAX:
            usage("the answer would pass msgmax")
        try:
            queue.send(reply, True, replytype)
        except sysv_ipc.Error as error:
            failed("send", error)


def send_all(queue, specs):
    # The test says go once its own receive sleeps in the kernel.
    if not sys.stdin.readline():
        usage("stdin closed before the go line")
    for mtype, size in specs:
        try:
            queue.send(pattern(mtype, size), True, mtype)
        except sysv_ipc.Error as error:
            failed("send", error)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("serve", "send"):
        usage("mode must be serve or send")
    mode, qref = argv[1], argv[2]
    if not qref.startswith("key="):
        usage("QREF must be key=N (sysv_ipc opens queues by key)")
    key = parse_int(qref[4:], "bad key")
    if mode == "serve":
        if not 4 <= len(argv) <= 6:
            usage("serve takes QREF COUNT [MSGTYP [REPLYTYPE]]")
        count = parse_int(argv[3], "bad COUNT")
        msgtyp = parse_type(argv[4], "bad MSGTYP") if len(argv) > 4 else 1
        replytype = parse_type(argv[5], "bad REPLYTYPE") if len(argv) > 5 else 2
    else:
        specs = [parse_spec(arg) for arg in argv[3:]]
    try:
        queue = sysv_ipc.MessageQueue(key, 0, max_message_size=TEXT_MAX)
    except sysv_ipc.Error as error:
        failed("open", error)
    print(f"ready {os.getpid()} {queue.id}", flush=True)
    if mode == "serve":
        serve(queue, count, msgtyp, replytype)
    else:
        send_all(queue, specs)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv)
