"""scikit-learn reference for `cs231n visualize tsne --raw FILE`.

Reads the codes our tool embedded (and its affinities, map and settings) from the raw
safetensors file, then:

  1. recomputes the joint probabilities P with scikit-learn's own functions (exact:
     `_joint_probabilities` on all squared distances; Barnes-Hut: `_joint_probabilities_nn` on the
     ⌊3·perplexity + 1⌋ nearest neighbours) and prints the largest |P_ours - P_sklearn| / max P;
  2. runs `sklearn.manifold.TSNE` on the same codes with the same perplexity, iterations and
     method (init="pca", learning_rate="auto", early_exaggeration=12, angle=0.5), timing it;
  3. prints both KL divergences and both maps' trustworthiness and 5-NN class agreement.

Exits 1 if our KL differs from scikit-learn's by more than 5%. safetensors files are parsed with
json + numpy (no package needed).

usage: python3 scripts/tsne_reference.py RAW.safetensors [--seed 0]
"""
import argparse, sys, time
import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial.distance import squareform
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities, _joint_probabilities_nn
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors
from safetensors_numpy import read_safetensors


def sklearn_affinities(codes, perplexity, method):
    n = codes.shape[0]
    if method == "exact":
        distances = pairwise_distances(codes, metric="euclidean", squared=True)
        return squareform(_joint_probabilities(distances, perplexity, 0))
    k = min(n - 1, int(3.0 * perplexity + 1))
    graph = NearestNeighbors(n_neighbors=k).fit(codes).kneighbors_graph(mode="distance")
    graph.data **= 2
    return _joint_probabilities_nn(graph, perplexity, 0).toarray()


def class_agreement(embedding, labels, k=5):
    """The share of points whose k nearest other points vote for their label (ties: smaller label)."""
    neighbours = NearestNeighbors(n_neighbors=k).fit(embedding).kneighbors(return_distance=False)
    votes = np.array([np.bincount(labels[row], minlength=labels.max() + 1).argmax() for row in neighbours])
    return float(np.mean(votes == labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tensors, meta = read_safetensors(args.raw)
    codes, labels, ours = tensors["codes"], tensors["labels"].astype(int), tensors["embedding"]
    perplexity, iterations, method = float(meta["perplexity"]), int(meta["iterations"]), meta["method"]
    method = "barnes_hut" if method == "barnes-hut" else "exact"
    n = codes.shape[0]
    print(f"{n} points of {codes.shape[1]} values, perplexity {perplexity:g}, {iterations} iterations, {method}")

    reference = sklearn_affinities(codes, perplexity, method)
    rows, columns = tensors["affinities.rows"].astype(int), tensors["affinities.columns"].astype(int)
    mine = csr_matrix((tensors["affinities.values"].astype(np.float64), (rows, columns)), shape=(n, n)).toarray()
    if method == "exact":
        reference[reference <= np.finfo(np.double).eps] = 0  # scikit-learn floors P at machine epsilon
    difference = np.abs(mine - reference).max() / reference.max()
    print(f"affinities: largest |P_ours - P_sklearn| / max P = {difference:.2e}")

    tsne = TSNE(n_components=2, perplexity=perplexity, max_iter=iterations, method=method, init="pca",
                learning_rate="auto", early_exaggeration=12.0, angle=0.5, random_state=args.seed)
    started = time.perf_counter()
    theirs = tsne.fit_transform(codes)
    seconds = time.perf_counter() - started
    ours_kl, theirs_kl = float(meta["kl_divergence"]), float(tsne.kl_divergence_)
    print(f"scikit-learn {method}: {seconds:.2f} s")
    print(f"KL divergence: ours {ours_kl:.4f}, scikit-learn {theirs_kl:.4f} ({100 * (ours_kl / theirs_kl - 1):+.2f}%)")
    for name, embedding in [("ours", ours), ("scikit-learn", theirs)]:
        trust = trustworthiness(codes, embedding, n_neighbors=5)
        print(f"{name}: trustworthiness(5) {trust:.4f}, 5-NN class agreement {100 * class_agreement(embedding, labels):.1f}%")
    if abs(ours_kl / theirs_kl - 1) > 0.05:
        print("FAIL: the KL divergences differ by more than 5%")
        sys.exit(1)


if __name__ == "__main__":
    main()
