"""Callbacks of ``training_callbacks()``: the checkpoints' history, the schedule resumed from it,
and the learning rate's linear warm-up (Keras is imported where needed)."""

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
