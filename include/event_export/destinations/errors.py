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


class VerificationError(DeliveryError):
    """What arrived at the destination differs from the manifest."""
