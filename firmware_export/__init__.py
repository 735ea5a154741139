"""Export: int8 quantization, the deploy bundle, and (later) C arrays for TFLite Micro."""
