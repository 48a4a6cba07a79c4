"""The training loop for what Keras' own ``fit()`` cannot take, and helpers of the R side.

``fit_doodles()`` hands the producer's batches (``doodles_batches.py``) to Keras' own ``fit()``.
This module's loop serves the two cases left: an R function (``format = "array"``, or a
connection other than doodles'), which only R's main thread may call, so each step pulls one
batch here and calls ``train_on_batch``; and a worker of a multi-worker training, which takes
its shard's batches from the producer on this thread, without R: Keras 3's own ``fit()`` fails
under MultiWorkerMirroredStrategy (Keras 3.15, TensorFlow 2.21, on a PyDataset: "ValueError:
Attempt to convert a value (PerReplica:{...}) with an unsupported type (<class
'tensorflow.python.distribute.values.PerReplica'>) to a Tensor"; its step function's log
reduction: see ``multi_worker_step_function``). Callbacks run as in ``fit()``.
"""

import threading
import time

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


def local_replicas(strategy):
    """How many replicas of `strategy` run in this process (its devices here)."""
    return len(strategy.extended.worker_devices)


def split_for_replicas(strategy, value):
    """Splits a batch (or each input of it) into one slice per replica of this process.

    Each process (each worker of a multi-worker strategy) holds its own batch, which its local
    replicas share; the replica ids of worker w run from w * local to (w + 1) * local - 1.
    """
    if isinstance(value, list):
        return [split_for_replicas(strategy, v) for v in value]
    n = local_replicas(strategy)
    return strategy.experimental_distribute_values_from_function(
        lambda context: np.array_split(value, n)[context.replica_id_in_sync_group % n])


def is_multi_worker(strategy):
    """Whether `strategy` spans several processes (TensorFlow's MultiWorkerMirroredStrategy)."""
    # The default strategy (one device) has no worker devices to count.
    if strategy is None or strategy.num_replicas_in_sync <= 1:
        return False
    return strategy.num_replicas_in_sync > local_replicas(strategy)


def multi_worker_step_function(model, train):
    """One distributed training (or test) step over all workers, as a tf.function.

    Keras 3's own step function reduces the replicas' scalar logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails under MultiWorkerMirroredStrategy
    ("Invalid reduction dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388).
    This one runs the model's own ``train_step`` (``test_step``) on every replica, whose gradients
    the optimizer all-reduces, and averages the logs over all replicas of all workers (each holds
    the same number of samples), so that every worker gets the same logs.
    """
    import tensorflow as tf

    attribute = "_doodles_train_step" if train else "_doodles_test_step"
    step = getattr(model, attribute, None)
    if step is not None:
        return step
    strategy = model.distribute_strategy
    replica_step = model.train_step if train else model.test_step

    @tf.function(reduce_retracing=True)
    def step(x, y):
        logs = strategy.run(lambda a, b: replica_step((a, b)), args=(x, y))
        return {key: strategy.reduce("MEAN", value, axis=None) for key, value in logs.items()}

    setattr(model, attribute, step)
    return step


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


def average_over_workers(model):
    """Sets the model's non-trainable float weights to their mean over all workers.

    The trainable weights are the same on every worker (the gradients are all-reduced), but the
    statistics a layer updates itself, such as BatchNormalization's moving mean and variance, are
    updated by each worker from its own batches. Averaging them (one all-reduce) at the end of
    every epoch, before validation and checkpoints, keeps all workers' models identical.
    """
    strategy = model.distribute_strategy
    variables = [v for v in model.non_trainable_weights
                 if np.dtype(v.dtype).kind == "f"]
    if not variables:
        return 0
    values = [np.asarray(v.numpy(), dtype=np.float32) for v in variables]
    flat = np.concatenate([value.ravel() for value in values])
    per_replica = strategy.experimental_distribute_values_from_function(lambda context: flat)
    mean = np.asarray(strategy.reduce("MEAN", per_replica, axis=None))
    at = 0
    for variable, value in zip(variables, values):
        variable.assign(mean[at:at + value.size].reshape(value.shape).astype(value.dtype))
        at += value.size
    return len(variables)


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
    with a TensorFlow error, raised here as one RuntimeError that says what happened.
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
            raise RuntimeError(worker_failure_message(strategy, error, where)) from None
        raise
    return model.history, timings



# Resuming: the schedule's counters travel with the checkpoints -------------------------------

HISTORY_ENTRY = "doodles_history.json"


def checkpoint_history(pattern, past):
    """A callback placed after `ModelCheckpoint(pattern)`: adds each epoch's logs to `past` (the
    logs of the epochs before, when resumed) and writes them all into the checkpoint just saved,
    as an entry of its zip that Keras' loader ignores. Any worker resuming from that file then
    has the same history (workers other than 0 write no log of their own)."""
    import json
    import zipfile

    import keras

    class CheckpointHistory(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.past = [dict(logs) for logs in past]

        def on_epoch_end(self, epoch, logs=None):
            logs = {key: float(value) for key, value in (logs or {}).items()}
            self.past.append(logs)
            # The name ModelCheckpoint gave the file (Keras formats it so).
            path = pattern.format(epoch=epoch + 1, **logs)
            with zipfile.ZipFile(path, "a") as archive:
                archive.writestr(HISTORY_ENTRY, json.dumps(self.past))

    return CheckpointHistory()


def resumed_schedule(schedule, past):
    """A callback that continues `schedule` (ReduceLROnPlateau, EarlyStopping), which resets its
    counters when training begins, from the logs `past` of the epochs trained before a resume:
    placed after it, it replays them through the callbacks' own on_epoch_end, so that their
    counts of epochs without improvement are those of an uninterrupted training. The learning
    rate (restored with the optimizer from the checkpoint) and model.stop_training are kept."""
    import keras

    class ResumedSchedule(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            optimizer = self.model.optimizer
            # A learning-rate schedule (cosine) decides the rate itself from the step count.
            scheduled = isinstance(optimizer._learning_rate,
                                   keras.optimizers.schedules.LearningRateSchedule)
            rate = None if scheduled else float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            for callback in schedule:
                verbose, callback.verbose = callback.verbose, 0
                for epoch, epoch_logs in enumerate(past):
                    callback.on_epoch_end(epoch, dict(epoch_logs))
                callback.verbose = verbose
            if rate is not None:
                optimizer.learning_rate = rate
            self.model.stop_training = False

    return ResumedSchedule()

def linear_warmup(steps):
    """A callback raising the learning rate linearly over the first `steps` optimizer steps, to
    the rate the optimizer has when training begins (step k of training trains at (k + 1) / steps
    of it); counted by the optimizer's own step count, so that a resumed training goes on where
    it stopped. The learning-rate plateau acts after it, on epochs' ends."""
    import keras

    class LinearWarmup(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.target = None

        def on_train_begin(self, logs=None):
            self.target = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

        def on_train_batch_begin(self, batch, logs=None):
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            if step < steps:
                self.model.optimizer.learning_rate = self.target * (step + 1) / steps
            elif step == steps:
                self.model.optimizer.learning_rate = self.target

    return LinearWarmup()

# Multi-worker training --------------------------------------------------------------------------

def start_workers(workers=None, index=None, timeout_seconds=600):
    """Joins this process to a cluster of workers and returns its MultiWorkerMirroredStrategy.

    `workers` (every worker's "host:port", the same list on each) and `index` (this worker's place
    in it) define the cluster; without them it is read from the environment variable TF_CONFIG.
    Must run before TensorFlow has started (before any model or tensor exists in the process).

    `timeout_seconds` bounds every wait on the other workers: for all of them to join at start
    (the coordination service's registration timeout) and at every collective step
    (CommunicationOptions: a stalled worker makes the others fail with DeadlineExceeded). A worker
    that dies is noticed sooner, by the coordination service's heartbeats (about 10 s).

    From here on SIGTERM and SIGINT (Ctrl-C) end the process at once (see stop_on_signals).
    """
    import json
    import os

    import tensorflow as tf
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    if workers is not None:
        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [str(w) for w in workers]},
            "task": {"type": "worker", "index": int(index)}})
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = resolver.cluster_spec()
    if not spec.jobs or resolver.task_type is None:
        raise ValueError("doodles: no cluster of workers: TF_CONFIG names no cluster and task")
    timeout_seconds = int(timeout_seconds)
    stop_on_signals()
    # The strategy configures the coordination service itself unless it already is; done here
    # first, with the same jobs, to bound the wait for all workers at start.
    if context.context().coordination_service is None:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
                for job in ("chief", "worker") if job in spec.jobs]
        context.context().configure_coordination_service(
            service_type="standalone",
            service_leader=multi_worker_util.coordination_leader(spec),
            cluster_register_timeout_in_ms=timeout_seconds * 1000,
            coordinated_jobs=jobs)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver, communication_options=options)
    strategy._doodles_timeout = timeout_seconds
    stop_on_signals()
    return strategy


def stop_on_signals():
    """Makes SIGTERM and SIGINT end this process at once (the default action).

    TensorFlow's worker setup installs a SIGTERM handler of its own that only records the signal,
    and R never sees a Ctrl-C it caught while TensorFlow runs: either way a worker could not be
    stopped. (During the wait for the peers inside the strategy's constructor, R's
    workers_default_signals() keeps resetting them from a thread of its own.) Ended like this, the
    other workers fail in bounded time, as after a kill -9 (the coordination service's heartbeats).
    """
    import signal

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)


def worker_info(strategy):
    """This process' place among the workers: (index from 0, number of workers, chief?)."""
    from tensorflow.python.distribute import multi_worker_util

    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    index = multi_worker_util.id_in_cluster(spec, resolver.task_type, resolver.task_id)
    count = sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs)
    chief = multi_worker_util.is_chief(spec, resolver.task_type, resolver.task_id)
    return int(index), int(count), bool(chief)


def exchange_among_workers(strategy, name, value, timeout_seconds=None):
    """Every worker's `value` (a string), in worker order; every worker gets the same list.

    Uses the key-value store of TensorFlow's coordination service. Each worker waits until all
    have read all values before returning, so that a worker that then stops (on a mismatch) does
    not take the store away from one still reading.
    """
    from tensorflow.python.eager import context

    index, count, _ = worker_info(strategy)
    if timeout_seconds is None:
        timeout_seconds = getattr(strategy, "_doodles_timeout", 600)
    wait_ms = int(timeout_seconds * 1000)
    ctx = context.context()
    ctx.set_config_key_value("doodles/%s/%d" % (name, index), str(value))
    values = [ctx.get_config_key_value("doodles/%s/%d" % (name, i), wait_ms) for i in range(count)]
    ctx.set_config_key_value("doodles/%s/read/%d" % (name, index), "1")
    for i in range(count):
        ctx.get_config_key_value("doodles/%s/read/%d" % (name, i), wait_ms)
    return values


WORKER_FAILURES = ("UnavailableError", "DeadlineExceededError", "AbortedError",
                   "CancelledError", "FailedPreconditionError")


def is_worker_failure(error):
    """Whether a TensorFlow error comes from the cluster (a worker gone, stalled or restarted)."""
    import tensorflow as tf

    if not isinstance(error, tf.errors.OpError):
        return False
    if type(error).__name__ in WORKER_FAILURES:
        return True
    text = str(error)
    return "Collective" in text or "coordination" in text.lower()


def worker_failure_message(strategy, error, where):
    """One line saying which step failed, which worker is to blame if TensorFlow says, and what to do."""
    import re

    from tensorflow.python.distribute import multi_worker_util

    text = getattr(error, "message", None) or str(error)
    spec = strategy.cluster_resolver.cluster_spec()
    index, count, _ = worker_info(strategy)
    named = re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", text.split("unhealthy", 1)[-1])
    others = sorted({multi_worker_util.id_in_cluster(spec, job, int(task)) for job, task in named}
                    - {index})
    timeout = getattr(strategy, "_doodles_timeout", None)
    kind = type(error).__name__
    if kind == "DeadlineExceededError":
        what = ("the other workers did not reach this step within %s s (a worker stalled or is "
                "much slower)" % timeout)
    elif "unhealthy" in text or "heartbeat" in text:
        what = "%s stopped (no heartbeat)" % (
            " and ".join("worker %d" % i for i in others) if others else "a worker")
    elif others:
        what = "%s failed or cannot be reached" % " and ".join("worker %d" % i for i in others)
    else:
        what = "another worker failed or cannot be reached"
    step = "" if where.get("step") is None else ", step %d" % (where["step"] + 1)
    # TensorFlow's message, on one line and without the graph node it failed in.
    said = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    said = re.sub(r"\s*\n\s*", " ", said).strip()
    if len(said) > 300:
        said = said[:297] + "..."
    return ("doodles: worker %d of %d stopped training in epoch %d%s: %s. TensorFlow: %s: %s"
            % (index, count, where["epoch"] + 1, step, what, kind, said))


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


def keras_of(model):
    """The Keras package `model` belongs to: Keras 3's ``keras`` or Keras 2's ``tf_keras`` (each
    trains only its own models, with its own callbacks)."""
    import keras

    if isinstance(model, keras.Model):
        return keras
    import tf_keras

    return tf_keras


def image_input(model):
    """The model's image input (the input named "image", else the first): its name, dtype and
    shape without the batch axis, and whether the model takes bytes 0..255, that is whether its
    input is uint8 or its first layer a Rescaling by at most 2/255 (to [0, 1] or [-1, 1])."""
    inputs = list(model.inputs)
    # tf_keras names an input's tensor "image:0" in some versions; Keras 3 names it "image".
    names = [str(getattr(tensor, "name", "")).split(":")[0] for tensor in inputs]
    index = names.index("image") if "image" in names else 0
    tensor = inputs[index]
    # A string in Keras 3, a tf.DType in Keras 2.
    dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
    first = next((layer for layer in model.layers if type(layer).__name__ != "InputLayer"), None)
    rescales_bytes = (type(first).__name__ == "Rescaling"
                      and 0 < float(np.max(np.abs(np.asarray(first.scale)))) <= 2 / 255 + 1e-9)
    return {"name": names[index], "dtype": dtype,
            "shape": [None if d is None else int(d) for d in tuple(tensor.shape)[1:]],
            "takes_bytes": dtype == "uint8" or rescales_bytes}


def copy_weights_to_gray(rgb_model, gray_model):
    """Copies the weights of a model built for RGB input into the same model built for one channel.

    Kernels that read the input channels (4-D, 3 input channels against 1) are summed over them,
    so that a gray image gives the activations the RGB model gives that image repeated in its three
    channels; per-channel input statistics (3 values against 1, e.g. a Normalization layer) are
    averaged. Returns the names of the layers that were adapted.
    """
    if len(rgb_model.layers) != len(gray_model.layers):
        raise ValueError("doodles: the RGB and gray models differ in their layers")
    adapted = []
    for rgb_layer, gray_layer in zip(rgb_model.layers, gray_model.layers):
        rgb_weights = rgb_layer.get_weights()
        if not rgb_weights:
            continue
        gray_shapes = [w.shape for w in gray_layer.get_weights()]
        new_weights = []
        for weight, shape in zip(rgb_weights, gray_shapes):
            if weight.shape == shape:
                new_weights.append(weight)
            elif weight.ndim == 4 and weight.shape[2] == 3 and shape[2] == 1:
                new_weights.append(weight.sum(axis=2, keepdims=True))
                adapted.append(rgb_layer.name)
            elif weight.ndim == 1 and weight.shape[0] == 3 and shape == (1,):
                new_weights.append(weight.mean(keepdims=True))
                adapted.append(rgb_layer.name)
            else:
                raise ValueError(
                    "doodles: cannot adapt weights of layer %s from shape %s to %s"
                    % (rgb_layer.name, weight.shape, shape))
        gray_layer.set_weights(new_weights)
    return sorted(set(adapted))
