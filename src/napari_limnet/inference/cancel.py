"""The exception a cancelled round raises (the controller's state is then exactly as before)."""


class Cancelled(Exception):
    """Raised inside a round when the caller asked to cancel; the controller's state is untouched."""
