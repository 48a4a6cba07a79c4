"""The package's Python exceptions. Each has a ``kind``, the suffix of the R condition class it
becomes (``doodles_error_<kind>``); R maps them by type (``python_exception()`` in R/producer.R)."""


class DoodlesError(Exception):
    """An error of the producer; ``kind`` is the suffix of R's condition class doodles_error_*."""

    kind = "internal"

    def __init__(self, message, drawing_id=None):
        super().__init__(message)
        self.drawing_id = drawing_id


class DrawingError(DoodlesError):
    """A drawing that cannot be drawn; ``drawing_id`` names it."""

    kind = "drawing"


class ArgumentError(DoodlesError):
    """A closed connection, an id or label out of range."""

    kind = "argument"


class IndexChangedError(DoodlesError):
    """The database changed after the producer was made."""

    kind = "index"


class WorkerFailure(DoodlesError, RuntimeError):
    """A worker of a multi-worker training stopped training: another worker died, stalled or
    cannot be reached. Its message is one line saying which worker, epoch and step, and what
    TensorFlow said (see ``workers.worker_failure_message``)."""

    kind = "workers"


ERRORS = {cls.kind: cls for cls in (DoodlesError, DrawingError, ArgumentError, IndexChangedError)}
