import CS231nNN

/// The update rules as fused loops: one sweep over w, g and the moments, split over the cores.
/// Weight decay joins the gradient as it is loaded, so it costs no pass of its own.
@usableFromInline
enum UpdateKernels {
    @inlinable
    static func apply<S: TensorScalar>(_ rule: UpdateRule, _ h: Hyper<S>, count: Int, w: SendablePointer<S>,
                                       g: SendableConstPointer<S>, a: SendablePointer<S>?, b: SendablePointer<S>?) {
        Parallel.forEachChunk(count, minimumChunk: 1 << 15) { range in
            let w = w.base, g = g.base
            switch rule {
            case .sgd:
                sweep(range, { i in (SIMD8(loading: w + i) - h.lr * decayed(g + i, w + i, h)).store(to: w + i) },
                      { i in w[i] -= h.lr * decayed(g[i], w[i], h) })
            case .momentum:
                let v = a!.base
                sweep(range, { i in
                    let velocity = h.mu * SIMD8(loading: v + i) - h.lr * decayed(g + i, w + i, h)
                    velocity.store(to: v + i)
                    (SIMD8(loading: w + i) + velocity).store(to: w + i)
                }, { i in
                    v[i] = h.mu * v[i] - h.lr * decayed(g[i], w[i], h)
                    w[i] += v[i]
                })
            case .nesterov:
                let v = a!.base
                sweep(range, { i in
                    let previous = SIMD8(loading: v + i)
                    let velocity = h.mu * previous - h.lr * decayed(g + i, w + i, h)
                    velocity.store(to: v + i)
                    (SIMD8(loading: w + i) - h.mu * previous + (1 + h.mu) * velocity).store(to: w + i)
                }, { i in
                    let previous = v[i]
                    v[i] = h.mu * previous - h.lr * decayed(g[i], w[i], h)
                    w[i] += -h.mu * previous + (1 + h.mu) * v[i]
                })
            case .rmsprop:
                let c = a!.base
                sweep(range, { i in
                    let gradient = decayed(g + i, w + i, h)
                    let cache = h.rho * SIMD8(loading: c + i) + (1 - h.rho) * gradient * gradient
                    cache.store(to: c + i)
                    (SIMD8(loading: w + i) - h.lr * gradient / (cache.squareRoot() + h.epsilon)).store(to: w + i)
                }, { i in
                    let gradient = decayed(g[i], w[i], h)
                    c[i] = h.rho * c[i] + (1 - h.rho) * gradient * gradient
                    w[i] -= h.lr * gradient / (c[i].squareRoot() + h.epsilon)
                })
            case .adam:
                let m = a!.base, v = b!.base
                sweep(range, { i in
                    let gradient = decayed(g + i, w + i, h)
                    let first = h.beta1 * SIMD8(loading: m + i) + (1 - h.beta1) * gradient
                    let second = h.beta2 * SIMD8(loading: v + i) + (1 - h.beta2) * gradient * gradient
                    first.store(to: m + i)
                    second.store(to: v + i)
                    let step = (first / h.correction1) / ((second / h.correction2).squareRoot() + h.epsilon)
                    (SIMD8(loading: w + i) - h.lr * step).store(to: w + i)
                }, { i in
                    let gradient = decayed(g[i], w[i], h)
                    m[i] = h.beta1 * m[i] + (1 - h.beta1) * gradient
                    v[i] = h.beta2 * v[i] + (1 - h.beta2) * gradient * gradient
                    w[i] -= h.lr * (m[i] / h.correction1) / ((v[i] / h.correction2).squareRoot() + h.epsilon)
                })
            case .pytorchMomentum:
                let v = a!.base
                sweep(range, { i in
                    let velocity = h.mu * SIMD8(loading: v + i) + decayed(g + i, w + i, h)
                    velocity.store(to: v + i)
                    (SIMD8(loading: w + i) - h.lr * velocity).store(to: w + i)
                }, { i in
                    v[i] = h.mu * v[i] + decayed(g[i], w[i], h)
                    w[i] -= h.lr * v[i]
                })
            case .pytorchNesterov:
                let v = a!.base
                sweep(range, { i in
                    let gradient = decayed(g + i, w + i, h)
                    let velocity = h.mu * SIMD8(loading: v + i) + gradient
                    velocity.store(to: v + i)
                    (SIMD8(loading: w + i) - h.lr * (gradient + h.mu * velocity)).store(to: w + i)
                }, { i in
                    let gradient = decayed(g[i], w[i], h)
                    v[i] = h.mu * v[i] + gradient
                    w[i] -= h.lr * (gradient + h.mu * v[i])
                })
            }
        }
    }

    /// g + λ·w, PyTorch's coupled weight decay; exactly g when λ = 0.
    @inlinable @inline(__always)
    static func decayed<S: TensorScalar>(_ g: UnsafePointer<S>, _ w: UnsafeMutablePointer<S>, _ h: Hyper<S>) -> SIMD8<S> {
        h.weightDecay == 0 ? SIMD8(loading: g) : SIMD8(loading: g).addingProduct(h.weightDecay, SIMD8(loading: w))
    }

    @inlinable @inline(__always)
    static func decayed<S: TensorScalar>(_ g: S, _ w: S, _ h: Hyper<S>) -> S {
        h.weightDecay == 0 ? g : g.addingProduct(h.weightDecay, w)
    }

    /// Runs `vector` at every multiple of 8 in the range and `scalar` on the tail.
    @inlinable @inline(__always)
    static func sweep(_ range: Range<Int>, _ vector: (Int) -> Void, _ scalar: (Int) -> Void) {
        var i = range.lowerBound
        while i + 8 <= range.upperBound { vector(i); i += 8 }
        while i < range.upperBound { scalar(i); i += 1 }
    }
}
