"""``jug demo``: writes jug-demo/primes.py once, and the jugfile works."""

from jug.subcommands.demo import demo


def test_demo_creates_then_notes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert demo() == 0
    out = capsys.readouterr().out
    assert 'jug execute primes.py' in out and 'Created jug-demo/primes.py' in out
    jugfile = tmp_path / 'jug-demo' / 'primes.py'
    text = jugfile.read_text()
    compile(text, str(jugfile), 'exec')
    assert 'range(2, 101)' in text and 'output.txt' in text
    jugfile.write_text('# edited\n')
    assert demo() == 0
    assert 'previously created' in capsys.readouterr().out
    assert jugfile.read_text() == '# edited\n'


def test_demo_jugfile_counts(tmp_path, monkeypatch, run_jug):
    monkeypatch.chdir(tmp_path)
    demo()
    proc = run_jug('count', 'primes.py', cwd=tmp_path / 'jug-demo')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split('\n')[-3].split() == ['101', 'Total']


def test_demo_via_main(run_jug, tmp_path):
    proc = run_jug('demo')
    assert proc.returncode == 0
    assert (tmp_path / 'jug-demo' / 'primes.py').is_file()
