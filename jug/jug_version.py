"""Version information.

``__version__`` is the Jug API level this package is compatible with: scripts and
jugfiles written for Jug 2.7 compare it, so it stays ``'2.7.0'`` (docs/compatibility.rst).
``__release__`` is this project's own release number, used by ``setup.py``.
"""

__version__ = '2.7.0'
__release__ = '3.0.0.dev0'

CITATION = '''\
If you use Jug in a scientific publication, please cite:
    Coelho, L.P., (2017). Jug: Software for Parallel Reproducible Computation in
    Python. Journal of Open Research Software. 5(1), p.30.
    http://doi.org/10.5334/jors.161'''
