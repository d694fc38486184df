"""Errors a destination raises. The failure policy tells the client's problems from ours by type."""

from __future__ import annotations


class DeliveryError(Exception):
    """Delivery failed for a reason on our side (a bug, a timeout, our storage): alerts on-call."""


class ClientSideError(DeliveryError):
    """Delivery failed because of the client's side: credentials, bucket or path, permissions.

    `explanation` and `fix` are short sentences written for the client; they never carry secrets.
    """

    def __init__(self, explanation: str, fix: str, *, code: str = "client_error"):
        super().__init__(f"{explanation} {fix}")
        self.explanation = explanation
        self.fix = fix
        self.code = code


class SetupError(DeliveryError):
    """Delivery cannot start because of how the destination's Airflow connection is set up: it is
    missing, lacks or cannot read its credentials, or cannot verify the server. Not the client's
    storage answering, so not a ClientSideError (no client email, never stops an export): the
    people who keep the connection fix it. `explanation` and `fix` name the connection and the
    field to set, never a secret; the destination check shows them as they are.
    """

    def __init__(self, explanation: str, fix: str, *, code: str):
        super().__init__(f"{explanation} {fix}")
        self.explanation = explanation
        self.fix = fix
        self.code = code


class VerificationError(DeliveryError):
    """What arrived at the destination differs from the manifest."""
