"""edge-kws: the on-device keyword-spotting runtime. Imports neither TensorFlow nor `training`."""

__version__ = "0.1.0"
