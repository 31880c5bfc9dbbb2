"""Read the results of sweep.py back, as one would in a notebook.

Run it in this directory, during or after ``jug execute sweep.py``: grid points
not computed yet are shown as ``-``.
"""
import jug
from jug import value

# Load the jugfile (this creates its tasks but runs none) and open its store.
store, space = jug.init('sweep.py', 'sweep.jugdata')
degrees, penalties = space['DEGREES'], space['PENALTIES']
tasks = space['errors']                        # {(degree, penalty): task}

# Only the results that exist: t.can_load() asks the store without loading.
errors = {point: value(t) for point, t in tasks.items() if t.can_load()}
print(f'{len(errors)} of {len(tasks)} grid points computed')

print('validation error (RMSE) by degree (rows) and penalty (columns)')
print('degree' + ''.join(f'{penalty:>10g}' for penalty in penalties))
for degree in degrees:
    cells = (f'{errors[degree, penalty]:>10.4f}' if (degree, penalty) in errors
             else f'{"-":>10}' for penalty in penalties)
    print(f'{degree:>6}' + ''.join(cells))

if space['best'].can_load():
    best = value(space['best'])
    print(f"best: degree {best['degree']}, penalty {best['penalty']:g}, "
          f"validation RMSE {best['error']:.4f}")
else:
    print('best: not computed yet')
