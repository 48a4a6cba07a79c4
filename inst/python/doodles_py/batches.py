"""Batches for Keras from the package's Rust producer, on any thread and without R.

R makes a producer (``train_generator()`` and ``test_generator()`` in a Keras form) and hands
its address to :class:`Batches`, which retains it through the C functions of the package's own
shared library (``src/rust/src/python.rs``), called with ctypes: ctypes releases the GIL during
each call, so Keras' threads (tf.data's, the legacy enqueuer's) take batches while the model
trains, and R's main thread is never asked for one. Each array of a batch is memory the Rust
side allocated; numpy views it through a small owner object, which frees it (the images back to
the producer's pool) when the last view is gone.

:class:`Batches` is a ``keras.utils.PyDataset`` (Keras 3) or a ``tf_keras.utils.Sequence``
(legacy Keras 2): ``model.fit(batches)`` and ``model.predict(batches)`` take it as it is and know
its length. ``batches[i]`` is a batch of the current epoch (see ``__getitem__``); calling ``batches()`` takes the next batch of a sequential road instead (what
R's ``it()`` does), and ``batches.take()`` the same for Python threads.
"""

import ctypes
import threading

import numpy as np


# The errors are also names of this module, as before the package had an errors module.
from .errors import ERRORS, ArgumentError, DoodlesError, DrawingError, IndexChangedError  # noqa: F401


class _Array(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("data", ctypes.c_void_p), ("bytes", ctypes.c_size_t)]


class _Batch(ctypes.Structure):
    _fields_ = [("x", _Array), ("y", _Array), ("features", _Array), ("rows", ctypes.c_uint64),
                ("step", ctypes.c_uint64), ("epoch", ctypes.c_uint64),
                ("epoch_step", ctypes.c_uint64)]


class _Error(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_char * 32), ("id", ctypes.c_int64),
                ("message", ctypes.c_char * 2048)]


_libraries = {}


def library(path):
    """The package's shared library at `path` (already loaded by R), with its C functions typed."""
    lib = _libraries.get(path)
    if lib is None:
        lib = ctypes.CDLL(path)
        lib.doodles_producer_retain.argtypes = [ctypes.c_void_p]
        lib.doodles_producer_retain.restype = ctypes.c_void_p
        lib.doodles_producer_release.argtypes = [ctypes.c_void_p]
        lib.doodles_producer_release.restype = None
        lib.doodles_producer_batch.argtypes = [ctypes.c_void_p, ctypes.c_int64,
                                               ctypes.POINTER(_Batch), ctypes.POINTER(_Error)]
        lib.doodles_producer_batch.restype = ctypes.c_int32
        lib.doodles_producer_waited.argtypes = [ctypes.c_void_p]
        lib.doodles_producer_waited.restype = ctypes.c_double
        lib.doodles_producer_ids.argtypes = [ctypes.c_void_p, ctypes.c_uint64,
                                             ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t]
        lib.doodles_producer_ids.restype = ctypes.c_int64
        lib.doodles_array_free.argtypes = [ctypes.c_void_p]
        lib.doodles_array_free.restype = None
        _libraries[path] = lib
    return lib


class _Memory:
    """Owns one array's Rust memory; numpy views it (``__array_interface__``) and keeps this
    object as the view's base, so the memory is freed exactly when no array uses it."""

    def __init__(self, lib, array, shape, typestr):
        self._lib = lib
        self._handle = array.handle
        self.__array_interface__ = {"shape": tuple(shape), "typestr": typestr,
                                    "data": (array.data or 0, False), "version": 3}

    def __del__(self):
        if self._handle:
            self._lib.doodles_array_free(self._handle)
            self._handle = None


def _numpy(lib, array, shape, typestr):
    return np.asarray(_Memory(lib, array, shape, typestr))


class BatchesBase:
    """What :class:`Batches` adds to Keras' dataset class (see the module documentation)."""

    def _doodles_init(self, lib_path, address, steps, image_shape, dtype, targets, num_classes,
                      n_features, ordered):
        self._lib = library(lib_path)
        self._handle = self._lib.doodles_producer_retain(int(address, 16))
        if not self._handle:
            raise DoodlesError("doodles: could not retain the batch producer")
        self.steps = int(steps)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.dtype = str(dtype)
        self.targets = str(targets)
        self.num_classes = int(num_classes)
        self.n_features = int(n_features)
        self.ordered = bool(ordered)
        self._epochs_done = 0
        self._positions = {}
        self._kept = {}
        self._calls = 0
        self._lock = threading.Lock()

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.doodles_producer_release(handle)
            self._handle = None

    def __len__(self):
        return self.steps

    def _fetch(self, step, with_step=False):
        batch = _Batch()
        error = _Error()
        if self._lib.doodles_producer_batch(self._handle, int(step), ctypes.byref(batch),
                                            ctypes.byref(error)) != 0:
            kind = error.kind.decode("utf-8", "replace")
            message = error.message.decode("utf-8", "replace")
            raise ERRORS.get(kind, DoodlesError)(message, error.id or None)
        rows = int(batch.rows)
        typestr = "|u1" if self.dtype == "uint8" else "<f4"
        x = _numpy(self._lib, batch.x, (rows,) + self.image_shape, typestr)
        if self.n_features:
            x = (x, _numpy(self._lib, batch.features, (rows, self.n_features), "<f4"))
        if self.targets == "none":
            out = (x,)
        elif self.targets == "sparse":
            out = (x, _numpy(self._lib, batch.y, (rows,), "<i4"))
        else:
            out = (x, _numpy(self._lib, batch.y, (rows, self.num_classes), "<f4"))
        return (int(batch.step), out) if with_step else out

    def __getitem__(self, index):
        index = int(index)
        if index < 0 or index >= self.steps:
            raise IndexError("doodles: batch %d of an epoch of %d" % (index, self.steps))
        # The producer's order is already shuffled: the k-th index asked for in an epoch, in
        # whatever order Keras asks (fit() shuffles the indices), is the epoch's k-th batch, the
        # one rendered ahead. An index asked again within the epoch is its batch again (Keras 3
        # reads two batches to learn their shapes before training); a new epoch starts when an
        # index comes again after all were asked for (also when fit() reads on across its epochs
        # because `steps_per_epoch` is shorter).
        # An ordered (test) walk keeps batch i at index i: predictions line up with their rows.
        with self._lock:
            if index in self._positions and len(self._positions) >= self.steps:
                self._epochs_done += 1
                self._positions = {}
            position = self._positions.setdefault(index, len(self._positions))
            step = self._epochs_done * self.steps + (index if self.ordered else position)
            kept = self._kept.get(step)
        if kept is not None:
            return kept
        batch = self._fetch(step)
        # The epoch's first two batches, which Keras reads before training to learn their shapes
        # and asks for again during the epoch (anywhere, when it shuffles the indices): kept for
        # this epoch and handed out again rather than drawn again.
        if position < 2:
            with self._lock:
                self._kept = {kept_step: kept for kept_step, kept in self._kept.items()
                              if kept_step >= self._epochs_done * self.steps}
                self._kept[step] = batch
        return batch

    def take(self, with_step=False):
        """The next batch of the sequential road (any thread; each batch goes to one caller);
        with `with_step`, ``(step, batch)``: its absolute step, for :meth:`ids`."""
        return self._fetch(-1, with_step)

    def __call__(self):
        """The next batch, as R's ``it()`` calls it: ``(x, y)``, or ``(x,)`` for test batches,
        and for an ordered (test) walk ``None`` after its last batch."""
        with self._lock:
            if self.ordered and self._calls >= self.steps:
                return None
            self._calls += 1
        return self.take()

    def ids(self, step):
        """The ids of batch `step` (absolute: over epochs, from 0), as numpy int64."""
        count = self._lib.doodles_producer_ids(self._handle, int(step), None, 0)
        out = np.zeros(max(count, 0), dtype=np.int64)
        self._lib.doodles_producer_ids(self._handle, int(step),
                                       out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), out.size)
        return out

    def waited_seconds(self):
        """Seconds the callers have waited for this producer's batches so far."""
        return float(self._lib.doodles_producer_waited(self._handle))


_classes = {}


def batches_class(legacy=False):
    """:class:`Batches` on top of Keras 3's PyDataset, or of tf_keras' Sequence (`legacy`)."""
    cls = _classes.get(legacy)
    if cls is None:
        if legacy:
            import tf_keras

            base = tf_keras.utils.Sequence
        else:
            import keras

            base = keras.utils.PyDataset
        cls = type("Batches", (BatchesBase, base), {"__module__": __name__})
        _classes[legacy] = cls
    return cls


def make_batches(lib_path, address, steps, image_shape, dtype, targets, num_classes, n_features,
                 ordered, legacy=False):
    """A :class:`Batches` on the producer R made at `address` (see the module documentation)."""
    cls = batches_class(legacy)
    batches = cls.__new__(cls)
    if legacy:
        cls.__bases__[1].__init__(batches)
    else:
        cls.__bases__[1].__init__(batches, workers=1, use_multiprocessing=False)
    batches._doodles_init(lib_path, address, steps, image_shape, dtype, targets, num_classes,
                          n_features, ordered)
    return batches


def timing_callback(batches, legacy=False):
    """A Keras callback recording, per epoch, the seconds Keras waited for `batches` (its data
    thread, in the producer) and the epoch's wall time, in ``timings``."""
    import time

    if legacy:
        import tf_keras as keras
    else:
        import keras

    class EpochTimings(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.timings = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()
            self._waited = batches.waited_seconds()

        def on_epoch_end(self, epoch, logs=None):
            self.timings.append({"data_seconds": batches.waited_seconds() - self._waited,
                                 "epoch_seconds": time.perf_counter() - self._started})

    return EpochTimings()
