"""Helpers on Keras models: which Keras a model is of, its image input, and RGB weights copied to a
one-channel model."""

import numpy as np

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
