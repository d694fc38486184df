"""S3 on 127.0.0.1: moto's threaded server, and a separate moto process that checks credentials.

moto accepts any credentials by default. With INITIAL_NO_AUTH_ACTION_COUNT set before moto is
imported, it verifies signatures and IAM policies after that many requests; the counter is
process-wide, so that server runs as its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

from servers.net import free_port, set_connection, wait_for_port

REGION = "us-east-1"


def aws_connection(endpoint: str, key_id: str, secret: str, **extra) -> dict:
    return {
        "conn_type": "aws",
        "login": key_id,
        "password": secret,
        "extra": {"endpoint_url": endpoint, "region_name": REGION, **extra},
    }


def boto_client(endpoint: str, service: str = "s3", key_id: str = "test", secret: str = "test"):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


class MotoS3:
    """moto's ThreadedMotoServer on a free loopback port; `reset()` wipes every bucket."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        self.endpoint = f"http://{host}:{port}"

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request).close()

    def stop(self) -> None:
        self._server.stop()


AUTH_USERS = {  # AuthMoto's IAM users and what each may do
    "reader": ["s3:ListBucket", "s3:GetObject"],
    "writer": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
}


@dataclass(frozen=True)
class AuthMoto:
    """A moto process that checks credentials, with one bucket, a read-only IAM user (`key_id`,
    `secret`) and a writer without rights on object versions (`writer`: key id and secret)."""

    endpoint: str
    bucket: str
    key_id: str
    secret: str
    writer: tuple[str, str]
    process: subprocess.Popen

    SETUP_REQUESTS = 1 + 3 * len(AUTH_USERS)  # the bucket; per user: user, access key, policy

    @classmethod
    def start(cls, bucket: str = "ees-auth") -> AuthMoto:
        port = free_port()
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(cls.SETUP_REQUESTS)}
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        boto_client(endpoint).create_bucket(Bucket=bucket)
        iam = boto_client(endpoint, "iam")
        keys = {}
        for user, actions in AUTH_USERS.items():
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
            iam.put_user_policy(UserName=user, PolicyName=user, PolicyDocument=json.dumps(policy))
        return cls(endpoint, bucket, *keys["reader"], keys["writer"], process)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def empty_bucket(moto: MotoS3, bucket: str, conn_id: str, secret: str):
    """A wiped moto with one empty bucket and an `aws` connection to it; the client to look in."""
    moto.reset()
    client = boto_client(moto.endpoint)
    client.create_bucket(Bucket=bucket)
    set_connection(conn_id, aws_connection(moto.endpoint, "AKIATESTKEY", secret))
    return client
