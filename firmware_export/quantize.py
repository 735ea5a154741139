"""Full-integer int8 TFLite conversion, calibrated on real features."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def to_int8_tflite(model: keras.Model, representative: np.ndarray) -> bytes:
    """int8 weights, activations, input and output; `representative` is (N, frames, n_mels) features."""
    def samples():
        for x in representative:
            yield [x[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()
