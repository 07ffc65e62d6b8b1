"""Release folders: old builds are pruned, never one a running server holds."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from iomkg.store.base import StoreError
from iomkg.store.releases import KEEP_RELEASES, Release, Releases


def publish(releases: Releases, label: str) -> Release:
    with releases.staging() as staging:
        (staging.path / "oxigraph").mkdir()
        return releases.publish(staging, label)


def names(root: Path) -> list[str]:
    return sorted(path.name for path in (root / "releases").iterdir())


def test_old_releases_are_pruned_oldest_first(tmp_path: Path) -> None:
    """Builds of one second have names that differ by label alone: "z" is older than "a"."""
    releases = Releases(tmp_path)
    made = [publish(releases, label) for label in ("z", "y", "b", "a")]
    assert names(tmp_path) == sorted(release.name for release in made[-KEEP_RELEASES:])
    assert releases.current() == made[-1]


def test_a_held_release_outlives_later_builds_until_let_go(tmp_path: Path) -> None:
    """A server serving the first build while two more are made keeps its store and dumps."""
    releases = Releases(tmp_path)
    served = publish(releases, "served")
    with served.hold():
        assert served.in_use()
        later = [publish(releases, f"later{index}") for index in range(KEEP_RELEASES + 1)]
        assert served.path.is_dir()
        assert releases.current() == later[-1]
    assert not served.in_use()
    publish(releases, "after")
    assert not served.path.exists()  # pruned by the first build after the server let go


def test_a_hold_ends_with_its_process_however_it_ends(tmp_path: Path) -> None:
    releases = Releases(tmp_path)
    served = publish(releases, "served")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from iomkg.store.releases import Release; "
            "hold = Release(Path(sys.argv[1])).hold(); print('held', flush=True); time.sleep(60)",
            str(served.path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert served.in_use()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert not served.in_use()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_no_current_release_is_explained(tmp_path: Path) -> None:
    """Three ways to have nothing to serve, three messages that say which and what to do."""
    with pytest.raises(StoreError, match=r"no build in .* yet: run `iomkg build` first"):
        Releases(tmp_path / "empty").require_current()

    a_file = tmp_path / "a-file"
    a_file.write_text("not a store")
    with pytest.raises(StoreError, match="is a file, not a store folder"):
        Releases(a_file).require_current()

    releases = Releases(tmp_path / "store")
    shutil.rmtree(publish(releases, "gone").path)
    with pytest.raises(StoreError, match=r"points at releases/.*-gone, which is not there"):
        releases.require_current()
