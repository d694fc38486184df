"""Real servers on 127.0.0.1 for the destination tests, each started and stopped by a fixture.

moto (S3), gcp-storage-emulator (GCS) with a local OAuth token endpoint, OpenSSH sshd (sFTP) and
pyftpdlib (FTP, FTPS); plus a TCP proxy that drops connections mid-transfer and a watcher that
records what a listing shows while an upload runs.
"""
