"""The user's mistakes, as one exception type: what the command line reports in one line.

Anything else that goes wrong is a bug and keeps its traceback.
"""


class FacegenError(Exception):
    """Bad input from the user (a path, a file, a parameter); the message says what to do."""
