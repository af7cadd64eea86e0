"""Data pipelines: tf.data inputs for the zoo's models."""
