"""The Python side of the R package doodles, as R's reticulate imports it.

Modules, one job each:

- ``arrays``: R's batches as Keras takes them (numpy views, one-hot rows), calls into R.
- ``batches``: the producer's batches for Keras (``keras.utils.PyDataset``), without R.
- ``training``: the training loop for R functions and multi-worker training, the predict loop.
- ``workers``: replicas and workers (distributed steps, setup, exchanges, failures).
- ``callbacks``: the checkpoints' history, the resumed schedule, the learning rate's warm-up.
- ``models``: helpers on Keras models (their image input, RGB weights for one channel).
- ``metrics``: MAP@3 as a Keras metric.
- ``errors``: the exceptions R turns into its ``doodles_error_*`` conditions.

The package's own names below are those R's helpers call (``bridge_py()`` in R/python-env.R);
the other modules are imported as ``doodles_py.<module>``.
"""

from .arrays import (as_model_input, nhwc_view, one_hot, r_calls,  # noqa: F401
                     reset_call_counts)
from .callbacks import (HISTORY_ENTRY, checkpoint_history, linear_warmup,  # noqa: F401
                        resumed_schedule)
from .errors import WorkerFailure  # noqa: F401
from .models import copy_weights_to_gray, image_input, keras_of  # noqa: F401
from .training import fit_loop, predict_loop  # noqa: F401
from .workers import (exchange_among_workers, is_multi_worker, start_workers,  # noqa: F401
                      worker_info)
