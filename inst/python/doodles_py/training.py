"""The training loop for what Keras' own ``fit()`` cannot take, and the predict loop of R functions.

``fit_doodles()`` hands the producer's batches (``batches.py``) to Keras' own ``fit()``.
This module's loop serves the two cases left: an R function (``format = "array"``, or a
connection other than doodles'), which only R's main thread may call, so each step pulls one
batch here and calls ``train_on_batch``; and a worker of a multi-worker training, which takes
its shard's batches from the producer on this thread, without R: Keras 3's own ``fit()`` fails
under MultiWorkerMirroredStrategy (Keras 3.15, TensorFlow 2.21, on a PyDataset: "ValueError:
Attempt to convert a value (PerReplica:{...}) with an unsupported type (<class
'tensorflow.python.distribute.values.PerReplica'>) to a Tensor"; its step function's log
reduction: see ``workers.multi_worker_step_function``). Callbacks run as in ``fit()``.
"""

import time

import numpy as np

from .arrays import as_model_input, as_training_batch, batch_size_of, call_r, next_batch
from .errors import WorkerFailure
from .models import keras_of
from .workers import (average_over_workers, is_multi_worker, is_worker_failure,
                      multi_worker_step_function, split_for_replicas, worker_failure_message)


class RunningMean:
    """Sample-weighted means of per-batch logs, as Keras reports them for an epoch."""

    def __init__(self):
        self.sums = {}
        self.count = 0

    def add(self, logs, n):
        for key, value in logs.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * n
        self.count += n
        return self.result()

    def result(self):
        if self.count == 0:
            return {}
        return {key: total / self.count for key, total in self.sums.items()}


def run_step(model, x, y, train):
    """One training (or test) step; the per-batch logs.

    Under a distribution strategy with several replicas, train_on_batch() would give every replica
    the whole batch, so the batch is split between them and the step function called directly.
    """
    # Only the TensorFlow backend has distribution strategies.
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None or strategy.num_replicas_in_sync <= 1:
        if train:
            return model.train_on_batch(x, y, return_dict=True)
        return model.test_on_batch(x, y, return_dict=True)
    # fit() and train_on_batch() build the optimizer and metric variables from a first batch
    # before calling the step function; there is no public way to do only that.
    model._maybe_symbolic_build(data_batch=(x, y, None))
    model.reset_metrics()
    if is_multi_worker(strategy):
        step_function = multi_worker_step_function(model, train)
        logs = step_function(split_for_replicas(strategy, x), split_for_replicas(strategy, y))
        return {key: float(value) for key, value in logs.items()}
    if train:
        model.make_train_function()
        step_function = model.train_function
    else:
        model.make_test_function()
        step_function = model.test_function
    logs = step_function(iter([(split_for_replicas(strategy, x),
                                split_for_replicas(strategy, y))]))
    return {key: float(value) for key, value in logs.items()}


def evaluate_loop(model, fn, steps):
    means = RunningMean()
    for _ in range(steps):
        batch = next_batch(fn)
        if batch is None:
            break
        x, y = batch
        logs = run_step(model, x, y, train=False)
        means.add(logs, batch_size_of(x))
    return means.result()


def fit_loop(model, fn, steps_per_epoch, epochs, callbacks=None, verbose=1,
             validation_fn=None, validation_steps=None, initial_epoch=0, pulled=None):
    """Trains `model` for `epochs` epochs of `steps_per_epoch` batches pulled from `fn`.

    `pulled`, when given, holds what R already pulled from `fn` (to check it against the model):
    a batch, trained on first, or `None`, which ends the first epoch as if `fn` had returned it.
    Returns the History callback and the seconds spent waiting for data and training, per epoch.

    Under a multi-worker strategy every worker runs this loop on its own batches; the steps are
    collective, so all workers must run the same number of steps (the same `steps_per_epoch`,
    `epochs` and `validation_steps`). A worker that dies or stalls makes the others' step fail
    with a TensorFlow error, raised here as one WorkerFailure that says what happened.
    """
    keras = keras_of(model)
    pending = list(pulled or [])

    def pull():
        if pending:
            return as_training_batch(pending.pop())
        return next_batch(fn)

    strategy = getattr(model, "distribute_strategy", None)
    multi_worker = is_multi_worker(strategy)
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
        epochs=epochs, steps=steps_per_epoch, model=model)
    model.stop_training = False
    timings = []
    where = {"epoch": initial_epoch, "step": None}

    def train():
        callback_list.on_train_begin()
        epoch_logs = None
        for epoch in range(initial_epoch, epochs):
            where["epoch"] = epoch
            callback_list.on_epoch_begin(epoch)
            means = RunningMean()
            data_seconds = 0.0
            train_seconds = 0.0
            for step in range(steps_per_epoch):
                where["step"] = step
                started = time.perf_counter()
                batch = pull()
                fetched = time.perf_counter()
                data_seconds += fetched - started
                if batch is None:
                    break
                x, y = batch
                callback_list.on_train_batch_begin(step)
                logs = run_step(model, x, y, train=True)
                logs = means.add(logs, batch_size_of(x))
                train_seconds += time.perf_counter() - fetched
                callback_list.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            where["step"] = None
            if multi_worker:
                average_over_workers(model)
            epoch_logs = means.result()
            if validation_fn is not None:
                val_logs = evaluate_loop(model, validation_fn, validation_steps)
                epoch_logs.update({"val_" + key: value for key, value in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            timings.append({"data_seconds": data_seconds, "train_seconds": train_seconds})
            if model.stop_training:
                break
        callback_list.on_train_end(logs=epoch_logs)

    try:
        train()
    except Exception as error:  # pylint: disable=broad-except
        if multi_worker and is_worker_failure(error):
            raise WorkerFailure(worker_failure_message(strategy, error, where)) from None
        raise
    return model.history, timings


def predict_loop(model, fn, steps=None):
    """Predicts batches pulled from `fn` (`list(x)` or `x`) until `steps` or until it returns None."""
    outputs = []
    step = 0
    while steps is None or step < steps:
        batch = call_r(fn)
        if batch is None:
            break
        if isinstance(batch, (list, tuple)) and len(batch) == 1:
            batch = batch[0]
        outputs.append(np.asarray(model.predict_on_batch(as_model_input(batch))))
        step += 1
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(outputs, axis=0)
