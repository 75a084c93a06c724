"""Near-duplicates: the same photo re-encoded or re-cropped, kept on one side of the split."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.fft import dct
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from facegen import config


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """64-bit pHash of each grayscale face (the algorithm of ``imagehash.phash``, batched).

    Shrink to 32x32, take the 2-D DCT, keep the 8x8 lowest frequencies and set a bit where a
    coefficient is above their median. Re-encoding or a slight re-crop moves few bits; a different
    face moves many. Batched in NumPy because per-image PIL calls take seconds on 23k faces.
    """
    if len(images) == 0:
        return np.zeros(0, np.uint64)
    small = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in images])
    coefficients = dct(dct(small.astype(np.float64), axis=1, norm=None), axis=2, norm=None)
    low = coefficients[:, :8, :8].reshape(len(images), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def near_duplicate_groups(
    images: np.ndarray,
    hashes: np.ndarray | None = None,
    *,
    max_bits: int = config.NEAR_DUPLICATE_MAX_BITS,
    min_correlation: float = config.NEAR_DUPLICATE_MIN_CORRELATION,
    block: int = 1024,
) -> np.ndarray:
    """Group ids such that the same photo, re-encoded or re-cropped, shares one id.

    Two stages, because aligned faces are alike: on UTKFace a pHash distance of 4-6 bits already
    links different people, and chaining those links merges dozens of strangers. So the hash only
    proposes pairs (within ``max_bits``) and the pixels decide: the pair is kept when the
    zero-mean normalised correlation of the two faces is at least ``min_correlation``.
    """
    n = len(images)
    hashes = perceptual_hashes(images) if hashes is None else hashes
    pixels = images.reshape(n, -1).astype(np.float32)
    pixels -= pixels.mean(axis=1, keepdims=True)
    pixels /= np.linalg.norm(pixels, axis=1, keepdims=True) + 1e-6
    sources, targets = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, n, block):
        distance = np.bitwise_count(hashes[start : start + block, None] ^ hashes[None, start:])
        i, j = np.nonzero(distance <= max_bits)
        upper = j > i  # columns start at ``start`` too, so j > i means a later face
        i, j = i[upper] + start, j[upper] + start
        similar = np.einsum("ij,ij->i", pixels[i], pixels[j]) >= min_correlation
        sources.append(i[similar])
        targets.append(j[similar])
    rows, cols = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels
