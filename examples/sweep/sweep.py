"""A parameter sweep: fit polynomials over a grid of (degree, penalty), keep the best.

Noisy samples of a cubic curve are split into a training set and a validation
set. For every point of the grid, a task fits a polynomial of that degree to the
training set (least squares with a ridge penalty) and returns its error on the
validation set. A last task picks the grid point with the smallest error.

* one task per grid point, kept in a dict keyed by the parameters, so that
  ``jug execute -j N`` fits N points at a time, and widening the grid later
  computes only the new points;
* the data set is a task too: every fit depends on it, and it is made once;
* the reduction ``best_point`` receives the dict with the errors in place of the
  tasks.

Run it with ``jug execute sweep.py`` (or ``-j 4``), then ``python analyse.py``,
which reads the results back the way a notebook would.
"""
import itertools

import numpy as np

from jug import TaskGenerator

#: Seed of the data set: change it and everything is computed again.
SEED = 2024
#: The grid.
DEGREES = [1, 2, 3, 4, 5, 6, 8, 10]
PENALTIES = [1e-6, 1e-4, 1e-2, 1.0]


@TaskGenerator
def make_data(seed, n_train=60, n_valid=400, noise=0.1):
    rng = np.random.default_rng(seed)  # seeded: the same data on every run

    def sample(n):
        x = rng.uniform(-1.0, 1.0, n)
        y = 0.5 - x + 2.0 * x ** 3 + rng.normal(0.0, noise, n)
        return x, y

    x_train, y_train = sample(n_train)
    x_valid, y_valid = sample(n_valid)
    return {'x_train': x_train, 'y_train': y_train, 'x_valid': x_valid, 'y_valid': y_valid}


@TaskGenerator
def validation_error(data, degree, penalty):
    """Root mean square error on the validation set of a ridge fit of this degree."""
    X = np.vander(data['x_train'], degree + 1)
    coefficients = np.linalg.solve(X.T @ X + penalty * np.eye(degree + 1),
                                   X.T @ data['y_train'])
    predicted = np.vander(data['x_valid'], degree + 1) @ coefficients
    return float(np.sqrt(np.mean((predicted - data['y_valid']) ** 2)))


@TaskGenerator
def best_point(errors):
    (degree, penalty), error = min(errors.items(), key=lambda item: item[1])
    return {'degree': degree, 'penalty': penalty, 'error': error}


data = make_data(SEED)
errors = {(degree, penalty): validation_error(data, degree, penalty)
          for degree, penalty in itertools.product(DEGREES, PENALTIES)}
best = best_point(errors)
