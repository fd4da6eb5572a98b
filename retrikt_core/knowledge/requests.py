"""How many entries ``extract`` asks of each knowledge source."""

from __future__ import annotations


def plan_requests(
    n_per_label: int,
    n_total: int,
    num_labels: int,
    sources: list[tuple[str, bool]],
    second_share: float,
) -> list[tuple[str, int | None, int]]:
    """``(section, label or None, n)`` requests for the configured sources,
    ``sources`` being ``(section, conditional)`` with ``generator`` first.

    One source keeps its own convention: a conditional generator is asked
    ``n_per_label`` per label, a corpus ``n_total`` (or ``n_per_label`` x labels).
    With a second source the total (``n_total``, or ``n_per_label`` x labels)
    is split by ``second_share``, so mixes of equal size compare fairly."""
    total = n_total or n_per_label * num_labels
    if len(sources) == 1:
        shares = [(sources[0], None)]
    else:
        second = round(total * second_share)
        shares = [(sources[0], total - second), (sources[1], second)]
    requests: list[tuple[str, int | None, int]] = []
    for (section, conditional), n in shares:
        if conditional:
            per_label = [n_per_label] * num_labels
            if n is not None:
                per_label = [n // num_labels + (i < n % num_labels) for i in range(num_labels)]
            requests += [(section, label, m) for label, m in enumerate(per_label) if m]
        else:
            count = total if n is None else n
            if count:
                requests.append((section, None, count))
    return requests
