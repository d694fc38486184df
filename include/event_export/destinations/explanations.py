"""Every sentence a client reads about a problem on their side, written once; and the sentences
about the Airflow connection that holds their credentials (missing, incomplete, unreadable), which
the destination check shows beside them.

The failure emails (through the ClientSideError a failed task records) and the destination check
(`destination_check.py`, the "Save Credentials" answer) both show these words, so a client reads
the same explanation and fix in both. They follow seed 003's "Error When Saving Credential" box:
bucket names must match exactly; a rejected key is generated again. No secret ever goes in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from event_export.destinations.errors import ClientSideError, SetupError


@dataclass(frozen=True)
class Store:
    """How a kind of storage names itself and its credential to a client."""

    name: str  # "S3", "the sFTP server"
    console: str  # where the client looks a bucket or folder up
    credential: str
    invalid: str  # what a rejected credential may be
    renew: str  # how a new credential is made and where it goes
    grant: str  # what the connection's user must be allowed
    fields: str  # where the credentials go in the Airflow connection
    bucket: str = "bucket"  # what the store calls a bucket ("container" on Azure)


STORES = {
    "s3": Store(
        "S3",
        "your AWS account",
        "access key",
        "the key id or secret is wrong, or the key has expired or been deleted",
        "Generate a new access key for the connection's user and put its key id and secret in "
        "the connection",
        "Allow s3:PutObject, s3:GetObject, s3:ListBucket, s3:ListBucketMultipartUploads and "
        "s3:AbortMultipartUpload on this bucket and prefix to the connection's user",
        "the access key id as its login and the secret as its password",
    ),
    "gcs": Store(
        "Google Cloud Storage",
        "Google Cloud",
        "service account key",
        "the key is invalid, or it has expired or been deleted",
        "Generate the service account key again and paste the new JSON key, whole, into the "
        "connection's keyfile_dict",
        "Grant the service account roles/storage.objectAdmin on the bucket",
        "the service account's JSON key, whole, as its extra keyfile_dict",
    ),
    "sftp": Store(
        "the sFTP server",
        "the server",
        "login",
        "the username, password or private key is wrong or has expired, or the account is disabled",
        "Check the username, put a new password or private key in the connection, and make sure "
        "the account is enabled",
        "Give the connection's user permission to create, rename and delete files in that folder",
        "the username as its login, and the password as its password or the private key as its "
        "extra private_key",
    ),
    "ftp": Store(
        "the FTP server",
        "the server",
        "login",
        "the username or password is wrong or has expired, or the account is disabled",
        "Check the username, put a new password in the connection, and make sure the account is "
        "enabled",
        "Give the connection's user permission to create folders and files there, and to rename "
        "and delete its own files",
        "the username as its login and the password as its password",
    ),
    "azure": Store(
        "Azure Blob Storage",
        "the Azure portal",
        "account key or SAS token",
        "the account key was rotated, or the SAS token is wrong, has expired or was revoked",
        "Copy the storage account's current key, or generate a new SAS token with read, add, "
        "create, write, delete and list permissions, and put it in the connection",
        "Give the connection's identity the Storage Blob Data Contributor role on the container, "
        "or a SAS token with read, add, create, write, delete and list permissions",
        "the storage account name as its login and the account key as its password, or a SAS "
        "token as its extra sas_token",
        "container",
    ),
    "local": Store(
        "this machine",
        "the machine",
        "access",
        "the workers' user may not use the folder",
        "Check the connection",
        "Give the workers' user write access to the export folder",
        "the export folder as its extra path",
    ),
}
STORES["ftps"] = replace(STORES["ftp"], name="the FTPS server")


def _because(reason: str) -> str:
    return f" ({reason})" if reason else ""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def auth_failed(kind: str, reason: str = "") -> ClientSideError:
    store = STORES[kind]
    return ClientSideError(
        _sentence(
            f"{store.name} rejected the {store.credential}{_because(reason)}: {store.invalid}."
        ),
        f"{store.renew}.",
        code="auth_failed",
    )


def bucket_missing(kind: str, bucket: str) -> ClientSideError:
    store = STORES[kind]
    word = store.bucket
    return ClientSideError(
        f"The {word} {bucket} does not exist.",
        f"Check that the {word} name in the export config is the same as in {store.console}: "
        f"{word} names need to be an exact match. Or create the {word}.",
        code="bucket_missing",
    )


def path_missing(kind: str, folder: str) -> ClientSideError:
    store = STORES[kind]
    return ClientSideError(
        f"The folder {folder} does not exist on {store.name}.",
        f"Check that the path in the connection is the same as on {store.console}: folder names "
        "need to be an exact match. Or create the folder.",
        code="path_missing",
    )


def permission_denied(kind: str, location: str, reason: str = "") -> ClientSideError:
    return ClientSideError(
        f"Permission denied at {location}{_because(reason)}.",
        f"{STORES[kind].grant}.",
        code="permission_denied",
    )


def kms_key_unusable(location: str, reason: str) -> ClientSideError:
    return ClientSideError(
        f"Permission denied using the KMS key for {location} ({reason}).",
        "Check the key id in the export config and allow the connection's user "
        "kms:GenerateDataKey and kms:Decrypt on the key.",
        code="permission_denied",
    )


def retention_policy(location: str) -> ClientSideError:
    return ClientSideError(
        f"A retention policy on {location} forbids replacing or deleting files until they are "
        "old enough, and a rerun of a day replaces its files.",
        "Remove or shorten the bucket's retention policy in Google Cloud if it is not locked; a "
        "locked retention policy cannot be changed, so deliver to a bucket without one.",
        code="retention_policy",
    )


# The connection that holds the credentials (SetupError: for whoever keeps Airflow's connections).

_WHERE = "Admin > Connections in Airflow, or an AIRFLOW_CONN_<ID> variable"


def connection_missing(conn_id: str) -> SetupError:
    return SetupError(
        f"There is no Airflow connection {conn_id!r}, so nothing can be sent.",
        f"Create the connection {conn_id!r} ({_WHERE}) with the credentials the client gave, "
        "then check again.",
        code="connection_missing",
    )


def credentials_missing(kind: str, conn_id: str, what: str = "") -> SetupError:
    store = STORES[kind]
    missing = what or f"no {store.credential}"
    return SetupError(
        f"The Airflow connection {conn_id!r} has {missing} for {store.name}.",
        f"Put {store.fields} in the connection {conn_id!r} ({_WHERE}), then check again.",
        code="credentials_missing",
    )


def credentials_unreadable(kind: str, conn_id: str, what: str, reason: str) -> SetupError:
    store = STORES[kind]
    return SetupError(
        f"The {what} in the Airflow connection {conn_id!r} cannot be read ({reason}).",
        f"Put {store.fields} in the connection again, as the client gave it (whole, nothing "
        "added or cut), then check again.",
        code="credentials_unreadable",
    )


def host_key_missing(conn_id: str) -> SetupError:
    return SetupError(
        f"The Airflow connection {conn_id!r} has no host_key, so the sFTP server cannot be "
        "verified and nothing is sent.",
        "Ask the client for the server's public host key (or run ssh-keyscan -p PORT HOST and "
        "confirm it with them) and put it as the connection's extra host_key (\"ssh-ed25519 "
        'AAAA..."); or set "no_host_key_check": true to skip the check on purpose.',
        code="host_key_missing",
    )


def host_key_unreadable(conn_id: str, reason: str) -> SetupError:
    return SetupError(
        f"The host_key in the Airflow connection {conn_id!r} cannot be read ({reason}).",
        'Put the key as ssh-keyscan prints it, type and base64 ("ssh-ed25519 AAAA..."), as the '
        "connection's extra host_key, then check again.",
        code="host_key_unreadable",
    )


def host_key_mismatch(conn_id: str) -> SetupError:
    return SetupError(
        f"The sFTP server's host key is not the one in the Airflow connection {conn_id!r}, so "
        "nothing is sent: the server may have been reinstalled, or someone stands in between.",
        "Confirm the server's new public host key with the client, then put it as the "
        "connection's extra host_key and check again.",
        code="host_key_mismatch",
    )


def tls_refused(conn_id: str, reply: str) -> SetupError:
    return SetupError(
        f"The FTP server of the Airflow connection {conn_id!r} does not offer TLS: it refused "
        f"AUTH TLS ({reply}), and the export config asks for FTPS.",
        "Ask the client to turn on explicit FTPS (AUTH TLS) on the server. Set ftps: false in "
        "the export config only if the client agrees to receive files unencrypted.",
        code="tls_refused",
    )


def certificate_untrusted(conn_id: str, reason: str) -> SetupError:
    return SetupError(
        f"The certificate of the FTPS server of the Airflow connection {conn_id!r} could not be "
        f"verified ({reason}).",
        "Ask the client for a certificate signed by a public certificate authority, valid for "
        "the host name in the connection; or add their CA certificate to the workers' trust "
        "store (SSL_CERT_FILE), then check again.",
        code="certificate_untrusted",
    )


def immutability_policy(location: str) -> ClientSideError:
    """Azure's retention: a time-based immutability policy or a legal hold on the container."""
    return ClientSideError(
        f"An immutability policy or legal hold on {location} forbids replacing or deleting files, "
        "and a rerun of a day replaces its files.",
        "Shorten or remove the container's immutability policy (or clear the legal hold) in the "
        "Azure portal if it is not locked; a locked policy cannot be shortened, so deliver to a "
        "container without one.",
        code="retention_policy",
    )


# The client's OpenPGP public key (`encrypt.pgp_public_key_conn_id`): SetupErrors too, for whoever
# keeps the connection (an expired key is renewed with the client, but nothing is emailed to them
# automatically: the export's config and its connection are ours to keep right).

_PUBLIC_KEY_FIELD = (
    'its extra {"public_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\\n...\\n-----END PGP '
    'PUBLIC KEY BLOCK-----\\n"}'
)


def encryption_key_missing(conn_id: str) -> SetupError:
    return SetupError(
        f"The Airflow connection {conn_id!r} has no public_key, so the export's files cannot be "
        "encrypted and nothing is sent.",
        f"Put the client's ASCII-armored OpenPGP public key in the connection {conn_id!r} as "
        f"{_PUBLIC_KEY_FIELD} ({_WHERE}), then check again.",
        code="encryption_key_missing",
    )


def encryption_key_unreadable(conn_id: str, reason: str) -> SetupError:
    return SetupError(
        f"The public_key in the Airflow connection {conn_id!r} cannot be read as an OpenPGP "
        f"public key ({reason}), so nothing is sent.",
        "Ask the client for their public key as `gpg --armor --export KEY-ID` prints it and put "
        f"it, whole, in the connection as {_PUBLIC_KEY_FIELD}, then check again.",
        code="encryption_key_unreadable",
    )


def encryption_key_unusable(conn_id: str, reason: str) -> SetupError:
    return SetupError(
        f"The OpenPGP key in the Airflow connection {conn_id!r} cannot encrypt ({reason}), so "
        "nothing is sent.",
        "Ask the client for a current public key with an encryption subkey (or to extend its "
        "expiry and send it again) and put it in the connection's extra public_key, then check "
        "again.",
        code="encryption_key_unusable",
    )
