"""The competition's metric, MAP@3, as a Keras metric of Keras 3 or Keras 2 (tf_keras).

Kaggle scores each drawing 1, 1/2 or 1/3 when its class is the first, second or third of the
three predicted, else 0; MAP@3 is the mean over the drawings. As a Keras metric it is computed on
the batches ``fit()`` already predicts (``val_map_3`` on the validation data, ``map_3`` on the
training batches), weighted by their sizes (the exact mean over the rows), reduced over replicas
and workers as accuracy is, and reaches every callback's logs: checkpoints, early stopping and the
learning-rate plateau can follow it without a second pass over the validation rows.
"""

_metric_functions = {}


def _map_at_3_function(keras):
    """MAP@3 per drawing for `keras`, registered so that saved models load again."""
    name = keras.__name__
    if name in _metric_functions:
        return _metric_functions[name]
    if name == "tf_keras":
        import tensorflow as tf

        top_k = lambda x, k: tf.math.top_k(x, k).indices  # noqa: E731
        ops = tf
        cast, equal, argmax, reshape, reduce_sum = tf.cast, tf.equal, tf.argmax, tf.reshape, tf.reduce_sum
    else:
        ops = keras.ops
        top_k = lambda x, k: ops.top_k(x, k)[1]  # noqa: E731
        cast, equal, argmax, reshape, reduce_sum = ops.cast, ops.equal, ops.argmax, ops.reshape, ops.sum

    def map_at_3(y_true, y_pred):
        top = cast(top_k(y_pred, 3), "int32")
        # One-hot rows, or the classes themselves (sparse labels: one value per row). Keras 2 may
        # not know the labels' last dimension when it traces this, so a rank and a last dimension
        # other than 1 decide.
        one_hot = len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] != 1
        truth = argmax(y_true, axis=-1) if one_hot else reshape(y_true, (-1,))
        hits = cast(equal(top, reshape(cast(truth, "int32"), (-1, 1))), "float32")
        return reduce_sum(hits * ops.convert_to_tensor([1.0, 1.0 / 2.0, 1.0 / 3.0]), axis=-1)

    registered = keras.saving.register_keras_serializable(package="doodles",
                                                         name="map_at_3")(map_at_3)
    _metric_functions[name] = registered
    return registered


def register(keras):
    """Registers the metric's function with `keras` (before any model that uses it is loaded)."""
    _map_at_3_function(keras)


def map_at_3(keras):
    """A new MAP@3 metric of `keras`, named ``map_3``."""
    return keras.metrics.MeanMetricWrapper(_map_at_3_function(keras), name="map_3")
