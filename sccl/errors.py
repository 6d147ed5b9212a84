"""User-facing errors.

Every problem caused by bad input (a missing file, a corrupt HDF5, a flag value out of range,
a missing pretraining artifact) is raised as :class:`SCCLError` with a one-sentence message that
names the file / flag / value and what to do. Scripts turn it into one line on stderr and exit
status 2 (see :func:`sccl.cli.run_main`); library callers can catch it like any exception.
"""


class SCCLError(Exception):
    """Bad input or a missing prerequisite: the message is shown to the user as is."""


class DataError(SCCLError):
    """An SHD file (or the folder that should hold it) is missing, corrupt or of the wrong layout."""


class ConfigError(SCCLError, ValueError):
    """A flag or configuration value is out of range or contradicts another one."""


class ArtifactError(SCCLError):
    """A pretraining artifact (weights or batch list) is missing or unreadable."""
