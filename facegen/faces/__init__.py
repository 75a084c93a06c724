"""Image to model input: decode, find the face, align it, preprocess it; one path for every face."""
