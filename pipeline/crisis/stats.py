"""Tail probabilities for the surge tests, in pure Python (no SciPy on the hot path).

`poisson_sf(k, mu)` is P(X >= k) for X ~ Poisson(mu), extended to real k through the regularised
lower incomplete gamma function P(k, mu) (exact for integer k), which is what the quasi-Poisson
test needs when it divides counts by a dispersion factor. `binom_sf` is the exact binomial upper
tail, summed in log space.
"""
from __future__ import annotations

import math

_EPS = 1e-15
_MAX_ITER = 500


def _gamma_p(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x) (Numerical Recipes: series or continued fraction)."""
    if x <= 0:
        return 0.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return min(1.0, total * math.exp(log_prefix))
    # continued fraction for Q(a, x) = 1 - P(a, x) (modified Lentz)
    b = x + 1 - a
    c = 1.0 / 1e-300
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return max(0.0, 1.0 - math.exp(log_prefix) * h)


def poisson_sf(k: float, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu); k may be real (continuous extension)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return _gamma_p(k, mu)


def quasi_poisson_sf(k: float, mu: float, dispersion: float = 1.0) -> float:
    """Upper tail when the variance is `dispersion` x the mean: Poisson on counts scaled by 1/dispersion."""
    phi = max(1.0, dispersion)
    return poisson_sf(k / phi, mu / phi)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lg_n1 = math.lgamma(n + 1)
    terms = [lg_n1 - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))
