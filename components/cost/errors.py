"""The one error a cost input can have: named file, key and problem, exit status 2."""


class CostInputError(Exception):
    """A usage file or price table the estimate cannot use; the message is one line naming
    the file, the key and what is wrong."""
