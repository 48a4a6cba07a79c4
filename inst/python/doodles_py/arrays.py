"""What passes between R and numpy: R's batches as Keras takes them, and calls into R.

R's functions (``format = "array"`` generators, a connection other than doodles') may only be
called on R's main thread: :func:`call_r` refuses any other and counts the calls, by thread.
"""

import threading

import numpy as np

# Calls into R, by thread; the tests check that "other" stays 0.
r_calls = {"main": 0, "other": 0}


def reset_call_counts():
    r_calls["main"] = 0
    r_calls["other"] = 0


def call_r(fn):
    """Calls the R function `fn`, refusing to do so from any thread but the main one."""
    if threading.current_thread() is not threading.main_thread():
        r_calls["other"] += 1
        raise RuntimeError("doodles: an R generator was called from a background thread")
    r_calls["main"] += 1
    return fn()


def nhwc_view(storage, shape, dtype):
    """The batch of `shape` (NHWC) and `dtype` held in `storage`, without a copy.

    `storage` is the numpy view reticulate makes of the R integer vector doodles rendered into
    (int32, R's memory, kept alive by it); the result is a view of it, so it keeps R's memory alive
    as long as Python holds it.
    """
    count = int(np.prod(shape))
    return storage.view(dtype)[:count].reshape(tuple(int(d) for d in shape))


def one_hot(labels, num_classes):
    """float32 one-hot rows of the 0-based integer `labels`."""
    return np.eye(int(num_classes), dtype=np.float32)[np.asarray(labels, dtype=np.intp)]


# The element types doodles' Keras forms hand over; anything else (R's doubles) becomes float32.
KERAS_DTYPES = (np.float32, np.uint8, np.int32)


def as_model_input(value):
    """C-ordered arrays for Keras from an array, or a list of arrays (several inputs).

    Arrays already in a Keras form (float32 or uint8 images, int32 labels, C-ordered) are passed
    on as they are, without a copy; others (R's double arrays, lists) are converted to float32.
    """
    if isinstance(value, (list, tuple)):
        return [as_model_input(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype in KERAS_DTYPES and value.flags.c_contiguous:
        return value
    return np.ascontiguousarray(value, dtype=np.float32)


def next_batch(source):
    """One `(x, y)` batch from `source`: the producer's Batches (taken on this thread, without
    R), or an R function (`None` when it signals the end)."""
    if hasattr(source, "take"):
        return as_training_batch(source.take())
    return as_training_batch(call_r(source))


def as_training_batch(batch):
    """The `(x, y)` arrays of a batch R returned; `None` for R's `NULL` (the end)."""
    if batch is None:
        return None
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise ValueError("doodles: a training generator must return list(x, y)")
    return as_model_input(batch[0]), as_model_input(batch[1])


def batch_size_of(x):
    return len(x[0]) if isinstance(x, list) else len(x)
