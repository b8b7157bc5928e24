"""User-facing errors.

A `PonderError` is bad input the user can fix (unknown task, malformed row, bad config value,
missing model path). The CLI prints its message as one line and exits with status 2; no
traceback. Anything else escaping the CLI is a bug in ponder and keeps its traceback.
"""


class PonderError(Exception):
    """Bad input: reported to the user as one line, exit status 2."""
