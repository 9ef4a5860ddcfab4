"""`tuoyu` processes for the tests, forked from a parent that has the libraries imported.

Each `tuoyu run` of the reliability tests (tests/hostile_fixtures.py `run_tuoyu`) is a
process of its own, so that a test can SIGKILL it and look at what it left behind. Most of
a fresh process's start is importing the third-party libraries (Great Expectations alone
takes about 3 s on two cores; dagster, matplotlib, typst and the rest about 1 s more), and
the suite starts about a hundred such processes. This server imports those libraries once,
then forks one child per request. Each child is a new session (its own process group, so a
test's `os.killpg` takes it and nothing else), with the request's environment, working
folder, arguments and standard output, and runs exactly what the console script or
`python -c` would: `pipeline.commands.cli.main()`, or the request's code as `__main__`.

What a child does not repeat is only those imports. The project's own modules are *not*
imported here: what they do at import (reading the SQL models, for example) happens in
each child, as in a fresh process, so the kill harness's file-operation counts hold. The
server refuses to serve if importing started a Python thread (a fork would copy its locks)
or brought in polars. A child leaves as the interpreter would (its threads joined, the
exit handlers run) but by os._exit, without the native teardown of libraries whose threads
exist in the server only.

Protocol, over a Unix SOCK_SEQPACKET socket (one message per datagram): the client sends a
JSON request with the write end of a pipe for stdout and stderr together, or of two pipes
for them apart (SCM_RIGHTS); the server answers {"pid": …} when the child is forked and
{"returncode": …, "maxrss_kb": …} when it has been reaped. The server ends when its
standard input closes or its parent dies (the test process has gone).
"""

from __future__ import annotations

import atexit
import builtins
import importlib
import json
import os
import select
import socket
import sys
import tempfile
import threading
import traceback
import warnings

# The libraries a `tuoyu run` imports, heaviest first, and the parts of them it imports
# lazily during the run (Dagster's on-disk storage and its migrations, pyarrow's dataset and
# Parquet writers, the Excel readers, GB 18030 decoding: about 0.35 s a run). Importing them
# starts no Python thread (only native helpers such as the allocators' and OpenBLAS's, whose
# fork handlers deal with the fork). polars is left out: importing it starts its native thread
# pool, which a forked child does not have, and the child's first query waits for it forever.
WARM_MODULES = (
    "great_expectations",
    "great_expectations.expectations",
    "dagster",
    "dagster._core.storage.sqlite_storage",
    "sqlalchemy",
    "duckdb_engine",
    "duckdb",
    "pyarrow",
    "matplotlib",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_svg",
    "typst",
    "xlsxwriter",
    "openpyxl",
    "pyarrow.dataset",
    "pyarrow.parquet",
    "upath.core",
    "fastexcel",
    "dotenv",
    "encodings.gb18030",
)


def serve(path: str) -> None:
    import ctypes
    import signal

    # End with the test process that started it, however that ends (PR_SET_PDEATHSIG, Linux;
    # the tests use this server on Linux only: tests/hostile_fixtures.py WARM).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    for name in WARM_MODULES:
        importlib.import_module(name)
    # Python 3.12+ counts the native threads too and warns at every fork; those threads are
    # the allocators' and OpenBLAS's, which handle a fork (see WARM_MODULES).
    warnings.filterwarnings("ignore", message=r".*multi-threaded, use of fork\(\) may lead to deadlocks",
                            category=DeprecationWarning)
    if threading.active_count() != 1 or "polars" in sys.modules:
        # a forked child has no copy of those threads (polars: see WARM_MODULES)
        raise SystemExit(f"warm_server: importing started {threading.enumerate()} or polars: not forking")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(16)
    print("ready", flush=True)
    waiting: dict[int, socket.socket] = {}  # child pid -> the connection that asked for it
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [], 0.02)
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):
            return  # the test process has gone
        if listener in readable:
            conn, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
            if not message:  # the client went away before asking for anything
                for fd in fds:
                    os.close(fd)
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                for other in (listener, conn, *waiting.values()):
                    other.close()
                _child(json.loads(message), fds)  # leaves by os._exit, never returns
            for fd in fds:
                os.close(fd)
            _tell(conn, {"pid": pid})
            waiting[pid] = conn
        while waiting:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = waiting.pop(pid)
            _tell(conn, {"returncode": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss})
            conn.close()


def _tell(conn: socket.socket, message: dict) -> None:
    """Send one message; a client that has gone (its test timed out, say) is no reason to stop."""
    try:
        conn.send(json.dumps(message).encode())
    except OSError:
        pass


def _child(request: dict, outputs: list[int]) -> None:
    """Become the requested process, run it, and leave by os._exit."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(outputs[0], 1)
    os.dup2(outputs[-1], 2)  # one pipe: stdout and stderr together; two: apart
    for fd in outputs:
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # TMPDIR is the request's
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    code = 0
    try:
        if request["code"] is not None:  # `python -c CODE args…`
            sys.path[0] = ""
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__", "__builtins__": builtins})
        else:
            sys.path[0] = os.path.dirname(sys.argv[0])  # the console script's folder
            from pipeline.commands.cli import main

            code = main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    # What the interpreter does at exit, without its native teardown of libraries whose
    # threads live in the server only: wait for the run's threads, run the exit handlers.
    threading._shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    serve(sys.argv[1])
