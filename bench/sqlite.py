#!/usr/bin/env python3
"""sqlite transaction load for bench/run.sh.

usage: sqlite.py DB COUNT

Creates the database DB (removed first, with its journal) with one table,
then runs COUNT single-row INSERTs, each its own transaction (autocommit),
in sqlite's default rollback-journal mode (journal_mode=DELETE,
synchronous=FULL): per transaction sqlite creates, writes and fsyncs the
journal, fsyncs the directory, writes and fsyncs the database and deletes
the journal, as the small transactions of an application do.  Checks that
COUNT rows are there and prints "COUNT".  The caller times the run.
"""
import os
import sqlite3
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, count = sys.argv[1], int(sys.argv[2])
    for p in (path, path + "-journal"):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    for i in range(count):
        db.execute("INSERT INTO t (v) VALUES (?)", ("row %08d of the benchmark" % i,))
    n = db.execute("SELECT count(*) FROM t").fetchone()[0]
    db.close()
    if n != count:
        print("sqlite.py: %d rows, wanted %d" % (n, count), file=sys.stderr)
        return 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
