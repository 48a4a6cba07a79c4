"""Replicas and workers: batches split between a strategy's replicas, the distributed step of a
multi-worker training, and the workers' setup, exchanges and failures (TensorFlow only; it is
imported where needed)."""

import numpy as np

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


# Multi-worker training ---------------------------------------------------------------------------


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
