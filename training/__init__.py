"""Training: datasets, augmentation, synthetic speech, models. Needs the [train] extra (TensorFlow)."""
