"""The CNN, its training and its use on new faces. Imports TensorFlow: keep it off light paths."""
