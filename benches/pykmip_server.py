"""Runs PyKMIP's own KMIP server (kmip.services.server.KmipServer) for benches/kmip.rs.

Usage: python pykmip_server.py HOST PORT CERT KEY CA WORKDIR

The server speaks KMIP over TLS 1.2 (auth suite "TLS1.2", PyKMIP's default cipher list),
requires a client certificate issued by CA with extended key usage clientAuth, keeps its
objects in WORKDIR/pykmip.db (SQLite, created by PyKMIP), reads operation policies from
the empty directory WORKDIR/policies (so only PyKMIP's built-in default policy applies)
and logs at WARNING to WORKDIR/server.log (PyKMIP logs every request at INFO).

The server runs until stdin reaches end of file (the bench closes it, or dies): then the
process shuts down PyKMIP's multiprocessing manager and exits at once, so that nothing
is left running.
"""

import os
import sys
import threading
import warnings

warnings.simplefilter("ignore")  # ssl.PROTOCOL_TLSv1_2 is deprecated in Python 3.10+

from kmip.services.server import KmipServer  # noqa: E402


def main():
    host, port, cert, key, ca, workdir = sys.argv[1:7]
    policies = os.path.join(workdir, "policies")
    os.makedirs(policies, exist_ok=True)
    server = KmipServer(
        hostname=host,
        port=int(port),
        certificate_path=cert,
        key_path=key,
        ca_path=ca,
        auth_suite="TLS1.2",
        config_path=None,
        log_path=os.path.join(workdir, "server.log"),
        policy_path=policies,
        enable_tls_client_auth=True,
        logging_level="WARNING",
        live_policies=False,
        database_path=os.path.join(workdir, "pykmip.db"),
    )

    def watch_stdin():
        # os.read, not sys.stdin: a thread blocked inside sys.stdin holds its lock, and
        # multiprocessing's forked children (PyKMIP's manager) would deadlock closing it.
        while os.read(0, 4096):
            pass
        try:
            server.manager.shutdown()
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.start()
    print("bound", flush=True)
    server.serve()


if __name__ == "__main__":
    main()
