"""Classification metrics (pure): confusion matrix, per-class precision/recall/F1, macro-F1."""
from __future__ import annotations

from collections.abc import Sequence


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """rows = gold label, columns = predicted label, in `labels` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    return matrix


def scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict:
    """Per-class precision, recall, F1 and support; macro-F1 over classes present in gold or pred; accuracy."""
    m = confusion(gold, pred, labels)
    per_class = {}
    f1s = []
    for i, label in enumerate(labels):
        tp = m[i][i]
        predicted = sum(row[i] for row in m)
        support = sum(m[i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or predicted:
            f1s.append(f1)
    n = len(gold)
    return {
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "accuracy": sum(m[i][i] for i in range(len(labels))) / n if n else 0.0,
        "per_class": per_class,
        "confusion": {"labels": list(labels), "matrix": m},
        "n": n,
    }


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    return scores(gold, pred, labels)["macro_f1"]
