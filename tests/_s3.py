"""A local S3 server for the docs' ``s3://bucket/...`` lines: moto on 127.0.0.1.

The docs' remote lines stay what a user types (``xr.open_dataset("s3://bucket/scene.rumi",
engine="rumi", storage_options={"anon": True})``): the endpoint and the credentials reach
s3fs/botocore through the standard environment variables of :meth:`LocalS3.environ`
(``AWS_ENDPOINT_URL`` and friends), set only while a block runs. Objects are uploaded
``public-read`` and the bucket allows anonymous reads and listing, as a public bucket does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

BUCKET = "bucket"
"""The bucket the docs name."""

_PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        }
    ],
}


class LocalS3:
    """A moto server on a free port of 127.0.0.1, holding :data:`BUCKET`."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
        self.server: ThreadedMotoServer = ThreadedMotoServer(
            ip_address="127.0.0.1", port=0, verbose=False
        )
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def environ(self) -> dict[str, str]:
        """What s3fs needs to reach the server, as environment variables."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def reset(self, files: dict[str, Path]) -> None:
        """Empty the bucket (creating it), then upload ``files`` (key: local file or folder)."""
        fs = self._fs()
        if fs.exists(BUCKET):
            fs.rm(f"{BUCKET}/**", recursive=True)
        else:
            fs.mkdir(BUCKET)
            fs.call_s3("put_bucket_policy", Bucket=BUCKET, Policy=json.dumps(_PUBLIC))
        for key, path in files.items():
            members = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for member in members:
                name = key if member == path else f"{key}/{member.relative_to(path).as_posix()}"
                fs.pipe_file(f"{BUCKET}/{name}", member.read_bytes(), ACL="public-read")
        fs.invalidate_cache()

    def _fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key="testing",
            secret="testing",
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
        )

    def stop(self) -> None:
        """Stop the server and forget s3fs's cached clients of it."""
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        self.server.stop()
