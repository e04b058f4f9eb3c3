#!/usr/bin/env python3
"""Writes seq2seq_metrics_nltk.json: corpus BLEU (NLTK 3.8 corpus_bleu, no smoothing, 4-gram uniform weights) and
Levenshtein distances (nltk.edit_distance) for seeded random token corpora, one and several references per row.
Every hypothesis has at least 4 tokens: for shorter ones NLTK's modified_precision counts a denominator of
max(1, n-grams) instead of 0, which departs from Papineni et al. (and sacreBLEU); Seq2SeqMetrics follows the paper.
Run with Debian's python3-nltk: /usr/bin/python3 seq2seq_metrics_nltk.py"""
import json, random
from nltk.translate.bleu_score import corpus_bleu
from nltk import edit_distance

rng = random.Random(17)
cases = []
for case in range(6):
    vocab = 6 + case                      # small vocabularies: many n-gram matches, so every precision is non-zero
    rows, hyps, refs = 25 + 5 * case, [], []
    for _ in range(rows):
        ref_count = 1 if case < 3 else rng.randint(1, 3)
        row_refs = []
        for _ in range(ref_count):
            row_refs.append([rng.randint(1, vocab) for _ in range(rng.randint(4, 12))])
        base = list(rng.choice(row_refs))
        hyp = []
        for tok in base:                  # a noisy copy of one reference: substitutions, deletions, insertions
            r = rng.random()
            if r < 0.12: continue
            hyp.append(rng.randint(1, vocab) if r < 0.3 else tok)
            if rng.random() < 0.08: hyp.append(rng.randint(1, vocab))
        if case == 2: hyp = hyp[: max(4, len(hyp) // 2)]   # short hypotheses: brevity penalty < 1
        while len(hyp) < 4: hyp.append(rng.randint(1, vocab))
        hyps.append(hyp)
        refs.append(row_refs)
    distances = [min(edit_distance(h, r) for r in rs) for h, rs in zip(hyps, refs)]
    cases.append({"hypotheses": hyps, "references": refs, "bleu": corpus_bleu(refs, hyps), "min_edit_distances": distances})
with open("seq2seq_metrics_nltk.json", "w") as f:
    json.dump({"generator": "nltk 3.8 corpus_bleu / edit_distance", "cases": cases}, f)
