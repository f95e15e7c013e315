"""A real S3-compatible server for the tests: moto's standalone server (``ThreadedMotoServer``, the
same Flask app as ``moto_server``) on a free loopback port, with one bucket.

The fixture sets what a department would set - ``EIS_S3_ENDPOINT_URL`` and the standard AWS variables
(fake credentials: moto accepts any) - and yields ``{"endpoint", "bucket", "fs"}`` (``fs``: an s3fs file
system on that server, to look at the objects directly).
"""

from __future__ import annotations

import socket

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_DEFAULT_REGION": "us-east-1", "EIS_S3_ENDPOINT_URL": endpoint}.items():
            mp.setenv(k, v)
        for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN"):
            mp.delenv(k, raising=False)
        import s3fs

        fs = s3fs.S3FileSystem(endpoint_url=endpoint)
        bucket = f"eis-artifacts-{port}"  # moto's threaded server keeps its state in this process: a new bucket
        fs.mkdir(bucket)
        try:
            yield {"endpoint": endpoint, "bucket": bucket, "fs": fs}
        finally:
            server.stop()
