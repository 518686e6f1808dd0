"""The bounded memory of recently seen ids used by the poller, the sender and the apology guard."""

from bot.recent import RecentSet


def test_recent_set_forgets_the_oldest_first():
    seen = RecentSet(3)
    for i in range(5):
        seen.add(i)
    assert len(seen) == 3 and 0 not in seen and 1 not in seen and all(i in seen for i in (2, 3, 4))
    seen.add(2)  # seen again: now the newest
    seen.add(5)
    assert 2 in seen and 3 not in seen
