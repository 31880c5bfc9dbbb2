"""Find the tone hidden in each of twelve noisy recordings: a signal pipeline.

Each recording (made up here, so nothing needs downloading) holds one tone, whose
frequency we want, buried in noise and in a stronger 50 Hz mains hum. The pipeline
has four stages per recording and a summary at the end:

1. ``record``: make the recording (a numpy array, stored as a ``.npy`` file);
2. ``band_pass``: keep only the band where the tones are, which removes the hum;
3. ``power_spectrum``: the power at each frequency;
4. ``peak_frequency``: the frequency with the most power;
5. ``summarise``: one task gathering what was found.

``power_spectrum`` and ``peak_frequency`` also run on the raw recordings, to show
what the filter is for: there, the hum wins. The same functions with other
arguments are other tasks, with other hashes.

Run it with, e.g., ``jug execute -j 2 signals.py``, then ``python summary.py``.
"""
import numpy as np

from jug import TaskGenerator

#: Samples per second, and length of each recording in seconds.
SAMPLE_RATE = 500
DURATION = 4.0
#: How many recordings; recording ``i`` holds a tone of ``tone_frequency(i)`` Hz.
N_RECORDINGS = 12
#: The mains hum added to every recording (stronger than the tones).
HUM_FREQUENCY = 50.0
HUM_AMPLITUDE = 1.5
#: The noise (standard deviation) added to every sample.
NOISE = 1.0
#: The band that ``band_pass`` keeps, in Hz: it holds every tone but not the hum.
BAND = (2.0, 40.0)


def tone_frequency(i):
    """The frequency of the tone in recording ``i``: 3, 6, 9, ... 36 Hz."""
    return 3.0 * (i + 1)


def frequencies(n_samples):
    """The frequency of each bin of the real FFT of ``n_samples`` samples."""
    return np.fft.rfftfreq(n_samples, d=1.0 / SAMPLE_RATE)


@TaskGenerator
def record(i):
    # A generator seeded with the recording's number: the same recording on every
    # run and every machine, whichever worker makes it (see the FAQ on randomness).
    rng = np.random.default_rng(i)
    t = np.arange(int(SAMPLE_RATE * DURATION)) / SAMPLE_RATE
    phase = rng.uniform(0, 2 * np.pi)
    signal = np.sin(2 * np.pi * tone_frequency(i) * t + phase)
    signal += HUM_AMPLITUDE * np.sin(2 * np.pi * HUM_FREQUENCY * t)
    signal += rng.normal(0.0, NOISE, t.size)
    return signal


@TaskGenerator
def band_pass(signal, low, high):
    spectrum = np.fft.rfft(signal)
    freqs = frequencies(signal.size)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, n=signal.size)


@TaskGenerator
def power_spectrum(signal):
    window = np.hanning(signal.size)  # less leakage between neighbouring bins
    return np.abs(np.fft.rfft(signal * window)) ** 2


@TaskGenerator
def peak_frequency(power):
    n_samples = 2 * (power.size - 1)
    return float(frequencies(n_samples)[np.argmax(power)])


@TaskGenerator
def summarise(true_frequencies, raw_peaks, filtered_peaks):
    rows = [{'recording': i, 'tone': tone, 'raw_peak': raw, 'filtered_peak': filtered}
            for i, (tone, raw, filtered)
            in enumerate(zip(true_frequencies, raw_peaks, filtered_peaks))]
    return {
        'recordings': len(rows),
        'found_raw': sum(row['raw_peak'] == row['tone'] for row in rows),
        'found_filtered': sum(row['filtered_peak'] == row['tone'] for row in rows),
        'rows': rows,
    }


tones = [tone_frequency(i) for i in range(N_RECORDINGS)]
recordings = [record(i) for i in range(N_RECORDINGS)]
filtered = [band_pass(signal, *BAND) for signal in recordings]
raw_peaks = [peak_frequency(power_spectrum(signal)) for signal in recordings]
filtered_peaks = [peak_frequency(power_spectrum(signal)) for signal in filtered]
summary = summarise(tones, raw_peaks, filtered_peaks)
