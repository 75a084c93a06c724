"""How well the classifier works, and for whom: metrics, subgroups, fairness, calibration.

Labels follow UTKFace: 0 = male, 1 = female (``config.GENDERS``); ``y_prob`` is the probability
of class 1. The threshold is never tuned on the test set. No TensorFlow here, so saved predictions
can be evaluated without loading a model.
"""
