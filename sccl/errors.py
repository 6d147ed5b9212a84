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
    """A configuration value is out of range or contradicts another one.

    The message speaks library terms; ``setting`` names the configuration field it is about
    (and ``value`` its value), so that the command-line layer can name the flag instead
    (:func:`sccl.cli_util.cli_message`)."""

    def __init__(self, message: str, *, setting: str | None = None, value=None):
        super().__init__(message)
        self.setting, self.value = setting, value


class ArtifactError(SCCLError):
    """A pretraining artifact (weights or batch list) is missing or unreadable."""
