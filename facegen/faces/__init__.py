"""Image to model input: decode, find the face, crop it, preprocess it; one path for every face."""
