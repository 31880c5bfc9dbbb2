"""Errors and edges that should help instead of puzzle.

* ``value(t)`` of a task without a result names the task, its hash and the store, and
  says which command computes it (still an ``AssertionError``, as in Jug 2.7);
* ``jug.init(jugfile)`` finds the results ``jug execute jugfile`` wrote;
* a closed stdout (``jug status | head -1``) ends jug quietly, exit code 141;
* ``jug --help`` lists each command once;
* ``jug cleanup --dry-run`` says what it would remove and removes nothing.

The shell's helpers are tested in ``tests/subcommands/test_shell_failed.py``.
"""
import os
import pickle
import subprocess
import textwrap

import pytest

import jug.task
from jug import value
from jug.backends.dict_store import dict_store
from jug.jug import EXIT_BROKEN_PIPE, init, main
from jug.options import build_parser, parse
from jug.subcommands import cmdapi
from jug.subcommands import shell as shell_module
from jug.subcommands.cleanup import cleanup
from jug.task import MissingResultError, Task
from jugtest import Output, files_in, jug_command, jug_env

PIPELINE = textwrap.dedent('''\
    from jug import TaskGenerator

    @TaskGenerator
    def process(x):
        return 2 * x

    t = process(21)
    ''')


def _write_pipeline(directory, name='pipeline.py'):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PIPELINE)
    return path


def _execute(*args):
    """Run ``jug execute ...`` in this process; return its exit code."""
    with pytest.raises(SystemExit) as e:
        main(['jug', 'execute', *args, '--will-cite'])
    jug.task.alltasks = []
    return e.value.code or 0  # sys.exit(None): success


# --- value() of a task without a result -----------------------------------------------

def test_value_of_missing_result_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    store, space = init('pipeline.py')
    t = space['t']
    key = t.hash().decode()
    expected = (f'Task pipeline.process (hash {key}) has no result in '
                'file_store(pipeline.jugdata): run `jug execute pipeline.py` first.')
    for get in (lambda: value(t), t.value, lambda: t.result, lambda: value([t[0]])):
        with pytest.raises(MissingResultError) as e:
            get()
        assert str(e.value) == expected
    error = e.value
    assert (error.name, error.hash, error.store) == ('pipeline.process', key, store)
    # Jug 2.7's load() raised AssertionError: code catching that still works
    assert isinstance(error, AssertionError)
    try:
        t.load()
    except AssertionError as caught:
        assert caught.__class__ is MissingResultError
    assert jug.task.MissingResultError is MissingResultError
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.name, copy.hash) == \
        (MissingResultError, expected, 'pipeline.process', key)


def test_missing_result_names_a_jugdir_other_than_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path / 'my dir')
    _, space = init('my dir/pipeline.py', 'results dir')
    with pytest.raises(MissingResultError) as e:
        value(space['t'])
    assert str(e.value).endswith(
        "has no result in file_store(results dir): "
        "run `jug execute 'my dir/pipeline.py' --jugdir 'results dir'` first.")


def test_missing_result_shows_no_redis_password(tmp_path, monkeypatch):
    pytest.importorskip('redis')
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    store, _ = init('pipeline.py', 'redis://:secret@localhost:1/')  # not connected yet
    store.close()
    assert jug.task.execute_command == \
        "jug execute pipeline.py --jugdir 'redis://:***@localhost:1/'"


def test_missing_result_in_a_store_set_by_hand(monkeypatch):
    monkeypatch.setattr(jug.task, 'execute_command', 'jug execute <jugfile>')
    Task.store = dict_store()
    t = Task(os.path.basename, 'a/b')
    with pytest.raises(MissingResultError, match=r'^Task posixpath\.basename \(hash '
                       r'[0-9a-f]{40}\) has no result in dict_store\(\): run '
                       r'`jug execute <jugfile>` first\.$'):
        value(t)
    t.run()
    assert value(t) == 'b'


def test_load_all_reports_each_missing_name_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Task.store = dict_store()
    done = Task(os.path.basename, 'x/done')
    done.run()
    missing = Task(os.path.basename, 'x/missing')
    jugspace = {'done': done, 'missing': missing, 'both': [done, missing],
                'item': missing[0], 'n': 3, '__name__': 'jf'}
    lines = Output()
    values = shell_module.load_all(jugspace, print_out=lines)
    assert values == {'done': 'done', 'n': 3}
    message = str(MissingResultError.of(missing.name, missing.hash(), Task.store,
                                        jug.task.execute_command))
    assert lines == [f'missing: no result: {message}', f'both: no result: {message}',
                     f'item: no result: {message}']


# --- init without a jugdir --------------------------------------------------------------

def test_init_finds_what_jug_execute_wrote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    os.mkdir('jugdata')  # Jug 2.7's default for init: the command line's wins
    assert _execute('pipeline.py') == 0
    assert files_in(tmp_path / 'pipeline.jugdata')
    store, space = init('pipeline.py')
    assert store.jugdir == 'pipeline.jugdata'
    assert value(space['t']) == 42


def test_init_falls_back_to_jug27_jugdata(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    assert _execute('pipeline.py', '--jugdir', 'jugdata') == 0
    store, space = init('pipeline.py')
    assert store.jugdir == 'jugdata'
    assert value(space['t']) == 42
    space['t'].invalidate()
    space['t'].unload()
    with pytest.raises(MissingResultError, match='`jug execute pipeline.py --jugdir jugdata`'):
        value(space['t'])


def test_init_without_any_jugdir_uses_the_command_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path / 'sub')
    store, space = init('sub/pipeline.py')
    assert store.jugdir == 'sub/pipeline.jugdata'  # as `jug execute sub/pipeline.py`
    assert files_in(tmp_path) == ['sub']  # nothing created
    assert parse(['execute', 'sub/pipeline.py']).jugdir == store.jugdir
    space['t'].run()
    assert files_in(tmp_path / 'sub') == ['pipeline.jugdata', 'pipeline.py']


def test_init_with_a_jugdir_or_a_store_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    os.mkdir('pipeline.jugdata')
    store, _ = init('pipeline.py', 'other')
    assert store.jugdir == 'other'
    given = dict_store()
    store, _ = init('pipeline.py', store=given)
    assert store is given


# --- a closed stdout ------------------------------------------------------------------

MANY_NAMES = textwrap.dedent('''\
    from jug import Task

    def make(i):
        def f(x):
            return x
        f.__name__ = 'a_function_with_a_rather_long_name_number_%05d' % i
        return f

    tasks = [Task(make(i), i) for i in range(4000)]
    ''')


@pytest.fixture(params=['buffered', 'unbuffered'])
def output_env(request):
    """jug's environment, with stdout buffered (the default for a pipe: the error comes
    when jug flushes) or not (PYTHONUNBUFFERED: it comes at the first write)."""
    env = jug_env()
    env.pop('PYTHONUNBUFFERED', None)
    if request.param == 'unbuffered':
        env['PYTHONUNBUFFERED'] = '1'
    return env


def _run_into_closed_pipe(tmp_path, env, *args):
    """Run jug with stdout a pipe whose reading end is closed before jug starts."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(jug_command(*args), cwd=tmp_path, env=env,
                              stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write_end)


def _run_into(reader, tmp_path, *args):
    """Run ``jug ARGS | READER``; return (jug's exit code, its stderr, reader's output)."""
    with subprocess.Popen(jug_command(*args), cwd=tmp_path, env=jug_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as jug_process:
        with subprocess.Popen(reader, stdin=jug_process.stdout, stdout=subprocess.PIPE,
                              text=True) as reader_process:
            jug_process.stdout.close()  # the reader holds the pipe now
            out, _ = reader_process.communicate(timeout=120)
        err = jug_process.stderr.read().decode()
        return jug_process.wait(timeout=120), err, out


@pytest.mark.parametrize('command', ['status', 'count', 'execute'])
def test_closed_stdout_ends_quietly(tmp_path, output_env, command):
    (tmp_path / 'jf.py').write_text(PIPELINE)
    result = _run_into_closed_pipe(tmp_path, output_env, command, 'jf.py', '--will-cite')
    assert (result.returncode, result.stderr) == (EXIT_BROKEN_PIPE, '')


def test_status_into_head(tmp_path):
    # a table much larger than a pipe's buffer: jug writes after head has exited
    (tmp_path / 'jf.py').write_text(MANY_NAMES)
    code, err, out = _run_into(['head', '-1'], tmp_path, 'status', 'jf.py')
    assert (code, err) == (EXIT_BROKEN_PIPE, '')
    assert out.split() == ['Failed', 'Waiting', 'Ready', 'Complete', 'Active', 'Task', 'name']


def test_count_into_true(tmp_path):
    (tmp_path / 'jf.py').write_text(MANY_NAMES)
    code, err, out = _run_into(['true'], tmp_path, 'count', 'jf.py')
    assert (code, err, out) == (EXIT_BROKEN_PIPE, '', '')


def test_execute_into_head(tmp_path):
    (tmp_path / 'loud.py').write_text(textwrap.dedent('''\
        from jug import TaskGenerator
        for i in range(20000):
            print('line', i)

        @TaskGenerator
        def f(x):
            return x

        t = f(1)
        '''))
    code, err, out = _run_into(['head', '-3'], tmp_path, 'execute', 'loud.py', '--will-cite')
    assert (code, err, out) == (EXIT_BROKEN_PIPE, '', 'line 0\nline 1\nline 2\n')


def test_execute_task_writing_into_head(tmp_path):
    (tmp_path / 'loud.py').write_text(textwrap.dedent('''\
        from jug import TaskGenerator

        @TaskGenerator
        def f(x):
            for i in range(20000):
                print('line', x, i)
            return x

        ts = [f(i) for i in range(3)]
        '''))
    code, err, out = _run_into(['head', '-3'], tmp_path, 'execute', 'loud.py', '--will-cite')
    assert code == EXIT_BROKEN_PIPE and out == 'line 0 0\nline 0 1\nline 0 2\n'
    assert 'Traceback' not in err and 'BrokenPipeError' not in err


def test_output_at_exit_into_closed_pipe(tmp_path, output_env):
    # check writes nothing itself (nothing is lost: its exit code stays); the
    # jugfile's atexit function writes at exit
    (tmp_path / 'jf.py').write_text('import atexit\n' + PIPELINE +
                                    'atexit.register(print, "bye")\n')
    result = _run_into_closed_pipe(tmp_path, output_env, 'check', 'jf.py')
    assert (result.returncode, result.stderr) == (1, '')


def test_help_into_closed_pipe(tmp_path, output_env):
    # argparse's exits pass through: newer argparse ignores a failed write (exit 0),
    # older argparse (3.9) lets the BrokenPipeError out, which ends quietly too (141)
    result = _run_into_closed_pipe(tmp_path, output_env, '--help')
    assert result.stderr == '' and result.returncode in (0, EXIT_BROKEN_PIPE)


def test_other_broken_pipes_are_still_errors(tmp_path):
    # a jugfile writing to a pipe of its own that is closed: its error, reported
    (tmp_path / 'jf.py').write_text(textwrap.dedent('''\
        import os
        r, w = os.pipe()
        os.close(r)
        os.write(w, b'x')
        '''))
    result = subprocess.run(jug_command('count', 'jf.py'), cwd=tmp_path, env=jug_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Could not import file 'jf.py'" in result.stderr
    assert 'BrokenPipeError' in result.stdout  # the jugfile's traceback (as Jug 2.7)


# --- jug --help ----------------------------------------------------------------------

def test_help_lists_each_command_once(capsys):
    parser = build_parser()
    text = parser.format_help()
    names = sorted(cmdapi.commands())
    for name in names:
        listed = [line for line in text.splitlines() if line.split()[:1] in
                  ([name], [name + ':'])]
        helptext = cmdapi.commands()[name].helptext()
        assert listed == [f'   {name + ":":<15} {helptext}']
        assert len(helptext.split()) >= 5, helptext  # a description, not "Print status"
    assert 'SUBCOMMAND            the subcommand to run: one of those listed above' in text
    # completion and `jug <command> --help` still see every command
    subparsers = parser._subparsers._group_actions[0]
    assert sorted(subparsers.choices) == names
    assert [a.dest for a in subparsers._choices_actions] == names
    assert subparsers.help is None  # the formatter changed a copy
    with pytest.raises(SystemExit) as e:
        parse(['cleanup', '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert cmdapi.commands()['cleanup'].helptext() in out and '--dry-run' in out


# --- jug cleanup --dry-run ------------------------------------------------------------

def _store_snapshot(store, jugdir=None):
    state = (sorted(store.list()), sorted(store.listlocks()),
             sorted((name, store.getlock(name).is_failed()) for name in store.listlocks()))
    if jugdir is not None:
        state += (sorted(os.path.relpath(os.path.join(d, f), jugdir)
                         for d, _, fs in os.walk(jugdir) for f in fs),)
    return state


def _prepare_cleanup(jug_options, **values):
    """simple.py all run, an orphan result, a lock, a failed lock; one orphan packed."""
    options = jug_options('simple', **values)
    store, _ = init(options.jugfile, options.jugdir)
    for t in jug.task.alltasks:
        t.run()
    store.dump(1, b'0' * 40)
    if hasattr(store, 'update_pack'):
        store.dump(2, b'1' * 40)
        store.update_pack()
    jug.task.alltasks[0].lock()
    jug.task.alltasks[1].lock()
    jug.task.alltasks[1].fail()
    return options, store


@pytest.mark.parametrize('flags, expected', [
    ({}, ['Removed {orphans} objects', 'Removed 2 locks']),
    ({'cleanup_keep_locks': True}, ['Removed {orphans} objects']),
    ({'cleanup_locks_only': True}, ['Removed 2 locks']),
    ({'cleanup_locks_only': True, 'cleanup_force': True}, ['Removed 2 locks']),
    ({'cleanup_failed_only': True}, ['Removed 1 failure locks']),
])
@pytest.mark.parametrize('backend', ['file', 'redis'])
def test_cleanup_dry_run(jug_options, request, backend, flags, expected):
    jugdir = request.getfixturevalue('redis_url') if backend == 'redis' else None
    values = {} if jugdir is None else {'jugdir': jugdir}
    options, store = _prepare_cleanup(jug_options, **values)
    orphans = 2 if backend == 'file' else 1  # the file store packs one of them
    expected = [line.format(orphans=orphans) for line in expected]
    options.update(flags)
    before = _store_snapshot(store, options.jugdir if backend == 'file' else None)
    options.cleanup_dry_run = True
    cleanup(store, options)
    assert options.print_out == [line.replace('Removed', 'Would remove') for line in expected]
    assert _store_snapshot(store, options.jugdir if backend == 'file' else None) == before
    options.cleanup_dry_run = False
    options.print_out.clear()
    cleanup(store, options)
    assert options.print_out == expected  # what the dry run said
    store.close()


def test_cleanup_dry_run_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    assert _execute('pipeline.py') == 0
    store, _ = init('pipeline.py')
    store.dump(1, b'0' * 40)
    jug.task.alltasks = []
    before = files_in(tmp_path / 'pipeline.jugdata' / '00')
    capsys.readouterr()  # execute's table
    with pytest.raises(SystemExit) as e:
        main(['jug', 'cleanup', 'pipeline.py', '--dry-run'])
    assert e.value.code is None
    assert capsys.readouterr().out == 'Would remove 1 objects\nWould remove 0 locks\n'
    assert files_in(tmp_path / 'pipeline.jugdata' / '00') == before != []
