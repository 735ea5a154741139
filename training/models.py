"""The DS-CNN over (frames, n_mels) log-mel features, in two forms that share one set of weights:

- `ds_cnn`: the whole 1 s window at once, for training and clip-level checks;
- `streaming_ds_cnn`: the same network fed `STEP` new frames at a time, with every convolution's
  recent inputs and the pooling window carried as explicit state tensors (as kws_streaming does), so
  each step computes only what is new. After a window's worth of frames its output equals `ds_cnn`'s.

Convolutions are unpadded ("valid") in time, which is what makes that equality exact.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .config import ModelConfig

KERNEL_T, KERNEL_F, STRIDE = 10, 4, 2  # first convolution (Zhang et al. 2017, DS-CNN)
STEP = STRIDE  # frames per streaming step: the network's time stride


def _same_freq_padding(n: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((-(-n // stride) - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def _geometry(frames: int, n_mels: int, blocks: int) -> dict:
    t0 = (frames - KERNEL_T) // STRIDE + 1  # steps of the first convolution
    if t0 - 2 * blocks < 1:
        raise ValueError(f"model: {frames} frames are too few for {blocks} blocks")
    return {"f0": -(-n_mels // STRIDE), "t_out": t0 - 2 * blocks,
            "pad0": _same_freq_padding(n_mels, KERNEL_F, STRIDE)}


def window_frames(frames: int) -> int:
    """How many frames the window model actually reads (its last frame may fall between strides):
    the frames a streaming model needs before its output equals the window model's."""
    return STRIDE * ((frames - KERNEL_T) // STRIDE) + KERNEL_T


def ds_cnn(frames: int, n_mels: int, n_classes: int, cfg: ModelConfig,
           mean: np.ndarray, variance: np.ndarray) -> keras.Model:
    """Depthwise-separable CNN ("Hello Edge"), with input normalisation built in so the device feeds
    raw frontend features and the statistics travel inside the model."""
    g = _geometry(frames, n_mels, cfg.blocks)
    inputs = keras.Input((frames, n_mels), name="features")
    x = layers.Normalization(axis=-1, mean=mean, variance=variance, name="norm")(inputs)
    x = layers.Reshape((frames, n_mels, 1))(x)
    x = layers.ZeroPadding2D(((0, 0), g["pad0"]))(x)
    x = layers.Conv2D(cfg.width, (KERNEL_T, KERNEL_F), strides=STRIDE, use_bias=False, name="conv0")(x)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, name="bn0")(x))
    for i in range(cfg.blocks):
        x = layers.ZeroPadding2D(((0, 0), (1, 1)))(x)
        x = layers.DepthwiseConv2D((3, 3), use_bias=False, name=f"dw{i}")(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, name=f"dw{i}_bn")(x))
        x = layers.Conv2D(cfg.width, 1, use_bias=False, name=f"pw{i}")(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, name=f"pw{i}_bn")(x))
    x = layers.Dropout(cfg.dropout)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")


def streaming_ds_cnn(full: keras.Model, frames: int, n_mels: int, cfg: ModelConfig) -> keras.Model:
    """The streaming twin of a trained `ds_cnn`, reusing its layers (and so its weights).

    Inputs: `frames` (1, STEP, n_mels) and one state per buffer; outputs: the class probabilities,
    then each state's next value, in the order of the inputs (the runtime feeds them back).
    """
    g = _geometry(frames, n_mels, cfg.blocks)
    layer = full.get_layer
    new = keras.Input((STEP, n_mels), name="frames")
    states = [keras.Input((KERNEL_T - STEP, n_mels, 1), name="state_conv0")]
    states += [keras.Input((2, g["f0"], cfg.width), name=f"state_dw{i}") for i in range(cfg.blocks)]
    states += [keras.Input((g["t_out"] - 1, cfg.width), name="state_pool")]
    x = layers.Reshape((STEP, n_mels, 1))(layer("norm")(new))
    x = layers.Concatenate(axis=1)([states[0], x])
    next_states = [layers.Cropping2D(((STEP, 0), (0, 0)))(x)]
    x = layers.ZeroPadding2D(((0, 0), g["pad0"]))(x)
    x = layers.ReLU()(layer("bn0")(layer("conv0")(x)))
    for i in range(cfg.blocks):
        x = layers.Concatenate(axis=1)([states[1 + i], x])
        next_states.append(layers.Cropping2D(((1, 0), (0, 0)))(x))
        x = layers.ZeroPadding2D(((0, 0), (1, 1)))(x)
        x = layers.ReLU()(layer(f"dw{i}_bn")(layer(f"dw{i}")(x)))
        x = layers.ReLU()(layer(f"pw{i}_bn")(layer(f"pw{i}")(x)))
    # Averaging each step over frequency first, then the last t_out steps, is the window's global mean.
    x = layers.Reshape((1, cfg.width))(layers.GlobalAveragePooling2D()(x))
    x = layers.Concatenate(axis=1)([states[-1], x])
    next_states.append(layers.Cropping1D((1, 0))(x))
    probs = layer("probs")(layers.GlobalAveragePooling1D()(x))
    return keras.Model([new, *states], [probs, *next_states], name="ds_cnn_streaming")


def state_names(model: keras.Model) -> list[str]:
    return [t.name for t in model.inputs[1:]]


def zero_states(model: keras.Model) -> list[np.ndarray]:
    return [np.zeros((1, *t.shape[1:]), np.float32) for t in model.inputs[1:]]
