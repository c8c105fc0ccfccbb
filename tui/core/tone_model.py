"""The tone coach's learned half: one logistic regression per rule over the words of a draft,
trained on the labelled drafts in tests/ by scripts/build_tone_model.py (pure Python, no
numpy: the board starts fast and the dependencies stay lean). The weights ship beside this
file in tone_model.json.

The regex rules find what they were written for and mark it precisely; drafts written apart
from them keep saying the same things in new words ("the reason for the delay was our
depot", "the courier let us down"), which the rules miss. The model reads the whole draft,
so it answers only where the rules are silent (tone.py), and points at the sentence whose
words weigh most for its finding.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("tone_model.json")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Pronouns, negations and the small words of "it was down to", "not on us" carry the tone;
# only the commonest words that say nothing either way are left out.
_STOP = frozenset({"the", "a", "an", "and", "of", "to", "in", "for", "on", "at", "is", "it", "this", "that"})

Span = tuple[int, int]


def words(text: str) -> list[str]:
    """The words of a folded text, a typographic apostrophe read as a plain one."""
    return _WORD.findall(text.replace("\u2019", "'"))


def features(text_words: Sequence[str], context: str) -> Iterator[str]:
    """Words, each also with its context (so "because" can weigh differently in an apology than in a
    "why" part), and pairs of words in a row, the small words too ("not ours", "down to")."""
    yield "ctx:" + context
    previous = "<s>"
    for word in text_words:
        if word not in _STOP:
            yield word
            yield context + ":" + word
        yield previous + " " + word
        previous = word


@dataclass(frozen=True)
class Model:
    labels: tuple[str, ...]
    contexts: dict[str, frozenset[str]]  # label -> the contexts it is read in
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]  # feature -> a weight per label
    thresholds: tuple[float, ...]  # a probability at or above this is a finding
    margin: float  # and the weight of its sentence's words at least this

    def probabilities(self, text: str, context: str) -> dict[str, float]:
        """Each label read in this context, with the model's probability that the draft has it."""
        sums = list(self.bias)
        for feature in set(features(words(text), context)):
            for index, weight in enumerate(self.weights.get(feature, ())):
                sums[index] += weight
        return {label: _sigmoid(sums[index]) for index, label in enumerate(self.labels)
                if context in self.contexts[label]}

    def flagged(self, text: str, context: str) -> dict[str, Span]:
        """Each label the draft reads as having, at the sentence whose words weigh most toward it.
        Both must hold: the whole draft at or above the label's threshold, and that sentence's own
        words at least `margin` toward it, so a short draft is not flagged on the prior alone."""
        likely = [self.labels.index(label) for label, probability in self.probabilities(text, context).items()
                  if probability >= self.thresholds[self.labels.index(label)]]
        if not likely:
            return {}
        best: dict[int, tuple[float, Span]] = {}
        for match in _SENTENCE.finditer(text):
            sums = dict.fromkeys(likely, 0.0)
            for feature in set(features(words(match[0]), context)):
                if (weights := self.weights.get(feature)) is not None and not feature.startswith("ctx:"):
                    for index in likely:
                        sums[index] += weights[index]
            sentence = match[0].strip()
            start = match.start() + match[0].index(sentence[:1]) if sentence else match.start()
            for index, weight in sums.items():
                if index not in best or weight > best[index][0]:
                    best[index] = (weight, (start, start + len(sentence)))
        return {self.labels[index]: span for index, (weight, span) in best.items() if weight >= self.margin}


def _sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, value))))


def to_json(model: Model) -> str:
    return json.dumps({
        "labels": list(model.labels),
        "contexts": {label: sorted(model.contexts[label]) for label in model.labels},
        "bias": list(model.bias), "thresholds": list(model.thresholds), "margin": model.margin,
        "weights": {feature: list(weights) for feature, weights in sorted(model.weights.items())},
    }, indent=0, sort_keys=True) + "\n"


def from_json(text: str) -> Model:
    raw = json.loads(text)
    return Model(labels=tuple(raw["labels"]),
                 contexts={label: frozenset(contexts) for label, contexts in raw["contexts"].items()},
                 bias=tuple(raw["bias"]), thresholds=tuple(raw["thresholds"]), margin=raw["margin"],
                 weights={feature: tuple(weights) for feature, weights in raw["weights"].items()})


@functools.cache
def shipped() -> Model:
    return from_json(MODEL_FILE.read_text(encoding="utf-8"))


def train(examples: Iterable[tuple[str, str, frozenset[str]]], contexts: dict[str, frozenset[str]],
          thresholds: dict[str, float], margin: float, epochs: int = 8, rate: float = 0.2, l2: float = 1e-4) -> Model:
    """Logistic regression per label by stochastic gradient descent, the drafts visited in the
    order given every epoch: no randomness, so the same drafts give the same weights. Each example
    is (folded text, context, labels it has); a label learns only from drafts of its contexts."""
    labels = tuple(sorted(contexts))
    rows = [(sorted(set(features(words(text), context))), context, expect)
            for text, context, expect in examples]
    weights: dict[str, list[float]] = {}
    bias = [0.0] * len(labels)
    for index, label in enumerate(labels):
        data = [(row, label in expect) for row, context, expect in rows if context in contexts[label]]
        for epoch in range(epochs):
            step = rate / (1 + epoch)
            for active, positive in data:
                total = bias[index] + sum(weights[f][index] for f in active if f in weights)
                error = _sigmoid(total) - (1.0 if positive else 0.0)
                bias[index] -= step * error
                for feature in active:
                    column = weights.setdefault(feature, [0.0] * len(labels))
                    column[index] -= step * (error + l2 * column[index])
    kept = {feature: tuple(round(w, 4) for w in column) for feature, column in weights.items()
            if any(abs(w) >= 1e-4 for w in column)}
    return Model(labels=labels, contexts=dict(contexts), bias=tuple(round(b, 4) for b in bias),
                 weights=kept, thresholds=tuple(thresholds[label] for label in labels), margin=margin)
