"""Print what signals.py found, loading its results as a notebook would.

Run it in this directory after ``jug execute signals.py``.
"""
import jug
from jug import value

store, space = jug.init('signals.py', 'signals.jugdata')
summary = value(space['summary'])

print(f"{'recording':>9}  {'tone (Hz)':>9}  {'raw peak':>8}  {'filtered peak':>13}")
for row in summary['rows']:
    print(f"{row['recording']:>9}  {row['tone']:>9.2f}  {row['raw_peak']:>8.2f}  "
          f"{row['filtered_peak']:>13.2f}")
print(f"tones found: {summary['found_filtered']} of {summary['recordings']} after "
      f"filtering, {summary['found_raw']} without")

# Any intermediate result can be loaded too, e.g. the first filtered recording:
first = value(space['filtered'][0])
print(f'first filtered recording: {first.size} samples, {first.dtype}')
