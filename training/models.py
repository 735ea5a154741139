"""Keras models over (frames, n_mels) log-mel features."""

from __future__ import annotations

import keras
import numpy as np

from .config import ModelConfig


def ds_cnn(frames: int, n_mels: int, n_classes: int, cfg: ModelConfig,
           mean: np.ndarray, variance: np.ndarray) -> keras.Model:
    """Depthwise-separable CNN (Zhang et al., "Hello Edge", 2017), with input normalisation built in
    so the device feeds raw frontend features and the statistics travel inside the model."""
    inputs = keras.Input((frames, n_mels), name="features")
    x = keras.layers.Normalization(axis=-1, mean=mean, variance=variance)(inputs)
    x = keras.layers.Reshape((frames, n_mels, 1))(x)
    x = keras.layers.Conv2D(cfg.width, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    for _ in range(cfg.blocks):
        x = keras.layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(cfg.width, (1, 1), use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Dropout(cfg.dropout)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")
