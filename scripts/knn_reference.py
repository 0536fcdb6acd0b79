"""Float64 numpy reference for the kNN integration test (W1's dev setting).

train = CIFAR-10 training images 0..4,999, queries = 49,000..49,499, raw pixels as float64,
no preprocessing. Prints, for L2 and L1 with k = 1 and 10, the accuracy and the 500 predicted
labels as one string of digits (neighbours: stable argsort, so distance ties go to the smaller
training index; votes: argmax of bincount, so ties go to the smaller label), then 5-fold
cross-validation (contiguous np.array_split folds) correct counts per fold for each k.

usage: python3 scripts/knn_reference.py [DATA_DIR]   (default ../shared/data/cifar-10-batches-bin)
"""
import os, sys
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "cifar-10-batches-bin")
raw = np.concatenate([np.fromfile(os.path.join(data, f"data_batch_{i}.bin"), dtype=np.uint8).reshape(-1, 3073)
                      for i in range(1, 6)])
X, y = raw[:, 1:].astype(np.float64), raw[:, 0].astype(np.int64)
Xtr, ytr, Xq, yq = X[:5000], y[:5000], X[49000:49500], y[49000:49500]


def distances(Q, T, metric):
    if metric == "l2":  # exact: integer pixels, every partial sum below 2^53
        return np.sum(Q * Q, 1)[:, None] + np.sum(T * T, 1)[None, :] - 2.0 * (Q @ T.T)
    return np.stack([np.abs(T - q).sum(1) for q in Q])


def predict(d, labels, k):
    nearest = labels[np.argsort(d, axis=1, kind="stable")[:, :k]]
    return np.array([np.bincount(row, minlength=10).argmax() for row in nearest])


KS = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]
for metric in ("l2", "l1"):
    d = distances(Xq, Xtr, metric)
    for k in (1, 10):
        p = predict(d, ytr, k)
        print(f"{metric} k={k} accuracy {np.mean(p == yq):.4f} predictions {''.join(map(str, p))}")
    folds = np.array_split(np.arange(5000), 5)
    counts = {k: [] for k in KS}
    for i, held in enumerate(folds):
        rest = np.concatenate([f for j, f in enumerate(folds) if j != i])
        d = distances(Xtr[held], Xtr[rest], metric)
        for k in KS:
            counts[k].append(int(np.sum(predict(d, ytr[rest], k) == ytr[held])))
    print(f"{metric} cv correct per fold: " + "; ".join(f"k={k}: {c}" for k, c in counts.items()))
