import numpy as np
import pytest

from dlzoo.crossval import cross_validate, forward_chaining_folds, stratified_folds


def test_stratified_folds_are_disjoint_and_cover_every_sample_once():
    y = np.repeat(np.arange(4), [30, 20, 25, 15])
    folds = stratified_folds(y, 5, seed=3)
    assert len(folds) == 5
    val = np.concatenate([va for _, va in folds])
    assert sorted(val.tolist()) == list(range(len(y)))  # each sample validated exactly once
    for tr, va in folds:
        assert not set(tr) & set(va)
        assert len(tr) + len(va) == len(y)
        # each class keeps its share (within one sample) in every validation fold
        for c, n in zip(range(4), [30, 20, 25, 15]):
            assert abs((y[va] == c).sum() - n / 5) <= 1


def test_forward_chaining_never_validates_on_the_past():
    folds = forward_chaining_folds(100, 4)
    assert len(folds) == 4
    prev_end = -1
    for tr, va in folds:
        assert tr.max() < va.min()  # train strictly before validation
        assert np.all(np.diff(va) == 1) and np.all(np.diff(tr) == 1)  # contiguous, unshuffled
        assert va.min() > prev_end
        prev_end = va.max()


def test_cross_validate_summarises():
    y = np.repeat([0, 1], 10)
    seen = []

    def train_fold(i, tr, va):
        seen.append(i)
        return {"val_accuracy": 0.5 + 0.1 * i, "val_loss": 1.0 - 0.1 * i}

    r = cross_validate(train_fold, y, 3)
    assert seen == [0, 1, 2]
    assert r.mean == pytest.approx(0.6)
    assert r.std == pytest.approx(np.std([0.5, 0.6, 0.7]))
    assert r.best_fold == 2
    assert "3-fold stratified val_accuracy: 0.6000" in r.summary()


@pytest.mark.parametrize("k", [1, 0, 2.0, True])
def test_bad_fold_count(k):
    with pytest.raises(ValueError, match="folds must be an integer >= 2"):
        stratified_folds(np.repeat([0, 1], 10), k)


def test_too_few_of_a_class():
    with pytest.raises(ValueError, match="smallest class has 2"):
        stratified_folds(np.array([0] * 10 + [1] * 2), 3)
