"""Word statistics over a small collection of text files, in three stages.

What it shows:

* **one task per input file** (``count_words``), run in parallel by as many
  ``jug execute`` processes as you start;
* ``barrier()``: the list of files exists only once the first task has written
  them, so the jugfile stops there until that task has a result;
* ``bvalue()``: which words to look at more closely depends on the counts, so
  the jugfile reads the chosen keywords with ``bvalue`` and only then creates
  one ``keyword_in_context`` task per keyword (a data-dependent pipeline);
* a reduction with ``jug.mapreduce.reduce``, which merges the per-file counts;
* ``timed_path``: a file's count is recomputed when the file changes;
* a last task writing a plain-text report, ``report.txt``.

The first task writes four short texts into ``texts/`` next to this file (only
the files that are missing), so the example needs nothing else. Run it from any
directory::

    jug execute wordstats.py &
    jug execute wordstats.py &
    wait
    jug check wordstats.py && cat report.txt

``jug execute`` reads the jugfile again after each barrier, so each process
goes through it three times: once to write the texts, once to count and merge,
once for the keyword tasks and the report. Edit a file in ``texts/`` and run
``jug execute`` again: only the tasks that depend on that file run.
"""
import collections
import os
import re

from jug import TaskGenerator, barrier, bvalue
from jug.mapreduce import reduce
from jug.utils import timed_path

HERE = os.path.dirname(os.path.abspath(__file__))

#: Directory (relative to this file) that holds the input texts.
TEXT_DIR = 'texts'
#: How many keywords the second stage looks at.
N_KEYWORDS = 5
#: How many examples of each keyword the report shows.
N_CONTEXTS = 3

#: Words too common to be interesting as keywords.
STOP_WORDS = frozenset('''
    a about after all an and are as at be before but by can each every for from
    had has have he her his in into is it its no not of on one or out over she so
    than that the their them then there they this to up was were what when which
    while who will with would you
'''.split())

#: A word: letters, optionally with one apostrophe inside ("river's", "don't").
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

#: The sample texts written by ``write_texts``: file stem -> paragraphs.
TEXTS = {
    'bakery': [
        "The bakery on the corner opens before the light comes up. By four in the "
        "morning the ovens are warm, and the baker has already shaped the first "
        "loaves of bread. Flour hangs in the air like a fine mist, and the radio "
        "plays quietly so as not to wake the street.",
        "Good bread needs time more than it needs skill. The dough rises slowly in "
        "the cold room overnight, and that patience gives the crust its colour and "
        "the crumb its flavour. The baker says that anyone can learn the movements, "
        "but few people are willing to wait.",
        "When the door finally opens, the first customers are the river workers "
        "coming off the night shift. They buy warm bread and strong coffee, talk "
        "about the water level, and walk home along the river as the morning light "
        "reaches the roofs.",
    ],
    'lighthouse': [
        "The lighthouse stands on a rock at the mouth of the river, where the fresh "
        "water meets the sea. For a hundred years a keeper lived in the small house "
        "beside it and climbed the stairs every evening to light the lamp.",
        "The light turned all night, once every ten seconds, and ships counted the "
        "flashes to know which coast they were passing. In fog the keeper sounded a "
        "horn instead, a long low note that carried across the water for miles.",
        "Today the lamp is automatic and the keeper's house is a small museum. "
        "Visitors climb the same stairs, look out over the river and the sea, and "
        "read the old logbooks, in which every storm and every passing ship was "
        "written down by hand.",
    ],
    'orchard': [
        "The orchard runs down the hill to the river in long straight rows. In spring "
        "the apple trees flower all at once, and for a week the whole slope is white "
        "and loud with bees moving from tree to tree.",
        "Most of the work happens in winter, when the trees are bare. Each tree is "
        "pruned so that light can reach the middle, because fruit that grows in the "
        "shade stays small and sour. The cut branches are stacked and later burned "
        "to warm the packing shed.",
        "The harvest begins at the end of summer. Pickers start early in the morning, "
        "while the fruit is still cold, and fill wooden crates that a tractor carries "
        "up the hill. The best apples go to market; the rest are pressed for juice.",
    ],
    'river': [
        "The river rises in the hills and reaches the town after a long, slow bend "
        "through farmland. In the morning a thin fog lies on the water, and the "
        "herons stand so still in the shallows that they look like posts.",
        "For centuries the river was the road. Boats carried grain, timber and stone "
        "down to the sea, and the town grew up around the bridge where the boats "
        "stopped to unload. The old warehouses still line the water, most of them "
        "turned into flats.",
        "In a wet spring the river can rise quickly. The town keeps a record of every "
        "flood on a stone by the bridge, each line cut at the height the water "
        "reached, and the oldest marks are almost too worn to read.",
    ],
}


def here(relname):
    """Absolute path of ``relname`` (a name relative to this jugfile's directory)."""
    return os.path.join(HERE, relname)


@TaskGenerator
def write_texts(directory):
    """Write the sample texts into ``directory``, keeping files that already exist.

    Returns the sorted list of the text files' names, relative to the jugfile.
    Each file is written under a temporary name and then renamed, so that no
    reader ever sees half a file.
    """
    os.makedirs(here(directory), exist_ok=True)
    names = []
    for stem, paragraphs in sorted(TEXTS.items()):
        name = f'{directory}/{stem}.txt'
        target = here(name)
        if not os.path.exists(target):
            partial = f'{target}.{os.getpid()}.tmp'
            with open(partial, 'w', encoding='utf-8') as out:
                out.write('\n\n'.join(paragraphs) + '\n')
            os.replace(partial, target)
        names.append(name)
    return names


def words_of(text):
    """The lower-case words of ``text``, in order."""
    return WORD.findall(text.lower())


@TaskGenerator
def count_words(path):
    """Count how often each word occurs in the file ``path`` (a ``collections.Counter``)."""
    with open(path, encoding='utf-8') as f:
        return collections.Counter(words_of(f.read()))


def merge_counts(a, b):
    """Add two word counts (the reducer given to ``jug.mapreduce.reduce``)."""
    merged = collections.Counter(a)
    merged.update(b)
    return merged


@TaskGenerator
def top_words(counts, n):
    """The ``n`` most frequent words that are not stop words, most frequent first.

    Ties are broken alphabetically so the choice does not depend on dict order.
    """
    candidates = [(word, k) for word, k in counts.items() if word not in STOP_WORDS]
    candidates.sort(key=lambda pair: (-pair[1], pair[0]))
    return [word for word, _ in candidates[:n]]


@TaskGenerator
def keyword_in_context(word, paths, width=4, limit=N_CONTEXTS):
    """Up to ``limit`` occurrences of ``word``, each with ``width`` words either side.

    Returns a list of ``(file name, snippet)`` pairs, in file order.
    """
    found = []
    for path in paths:
        with open(path, encoding='utf-8') as f:
            words = words_of(f.read())
        for i, w in enumerate(words):
            if w == word:
                snippet = ' '.join(words[max(0, i - width):i + width + 1])
                found.append((os.path.basename(path), snippet))
                if len(found) == limit:
                    return found
    return found


@TaskGenerator
def write_report(names, counts, totals, keywords, contexts, output):
    """Write the statistics as plain text to ``output`` (relative to the jugfile).

    Returns the numbers the report is made of, as a dict, so they can also be
    loaded with ``jug.value``.
    """
    summary = {
        'files': len(names),
        'words': sum(totals.values()),
        'distinct_words': len(totals),
        'keywords': {word: totals[word] for word in keywords},
    }
    lines = ['Word statistics', '===============', '']
    for name, c in zip(names, counts):
        lines.append(f'{name:24} {sum(c.values()):6} words {len(c):6} distinct')
    lines.append(f"{'all files':24} {summary['words']:6} words "
                 f"{summary['distinct_words']:6} distinct")
    lines += ['', f'Top {len(keywords)} keywords (stop words excluded)', '']
    for word in keywords:
        in_files = sum(1 for c in counts if c[word])
        lines.append(f'{word!r}: {totals[word]} times in {in_files} of {len(names)} files')
        for fname, snippet in contexts[word]:
            lines.append(f'    {fname:16} ... {snippet} ...')
    with open(here(output), 'w', encoding='utf-8') as out:
        out.write('\n'.join(lines) + '\n')
    return summary


# Stage 1: make sure the input files exist.
texts = write_texts(TEXT_DIR)
barrier()  # nothing below can be set up before write_texts has run

# Stage 2: one counting task per file, then merge the counts.
names = bvalue(texts)  # a plain list of file names from here on
counts = [count_words(timed_path(here(name))) for name in names]
totals = reduce(merge_counts, counts)
keywords = top_words(totals, N_KEYWORDS)

# Stage 3: which tasks to create depends on a result: read it with bvalue
# (this is a barrier for the keywords task only).
chosen = bvalue(keywords)
paths = [timed_path(here(name)) for name in names]
contexts = {word: keyword_in_context(word, paths) for word in chosen}

report = write_report(names, counts, totals, keywords, contexts, 'report.txt')
