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
                sweep(range, { i in store(load(w + i) - h.lr * decayed(g + i, w + i, h), w + i) },
                      { i in w[i] -= h.lr * decayed(g[i], w[i], h) })
            case .momentum:
                let v = a!.base
                sweep(range, { i in
                    let velocity = h.mu * load(v + i) - h.lr * decayed(g + i, w + i, h)
                    store(velocity, v + i)
                    store(load(w + i) + velocity, w + i)
                }, { i in
                    v[i] = h.mu * v[i] - h.lr * decayed(g[i], w[i], h)
                    w[i] += v[i]
                })
            case .nesterov:
                let v = a!.base
                sweep(range, { i in
                    let previous = load(v + i)
                    let velocity = h.mu * previous - h.lr * decayed(g + i, w + i, h)
                    store(velocity, v + i)
                    store(load(w + i) - h.mu * previous + (1 + h.mu) * velocity, w + i)
                }, { i in
                    let previous = v[i]
                    v[i] = h.mu * previous - h.lr * decayed(g[i], w[i], h)
                    w[i] += -h.mu * previous + (1 + h.mu) * v[i]
                })
            case .rmsprop:
                let c = a!.base
                sweep(range, { i in
                    let gradient = decayed(g + i, w + i, h)
                    let cache = h.rho * load(c + i) + (1 - h.rho) * gradient * gradient
                    store(cache, c + i)
                    store(load(w + i) - h.lr * gradient / (cache.squareRoot() + h.epsilon), w + i)
                }, { i in
                    let gradient = decayed(g[i], w[i], h)
                    c[i] = h.rho * c[i] + (1 - h.rho) * gradient * gradient
                    w[i] -= h.lr * gradient / (c[i].squareRoot() + h.epsilon)
                })
            case .adam:
                let m = a!.base, v = b!.base
                sweep(range, { i in
                    let gradient = decayed(g + i, w + i, h)
                    let first = h.beta1 * load(m + i) + (1 - h.beta1) * gradient
                    let second = h.beta2 * load(v + i) + (1 - h.beta2) * gradient * gradient
                    store(first, m + i)
                    store(second, v + i)
                    let step = (first / h.correction1) / ((second / h.correction2).squareRoot() + h.epsilon)
                    store(load(w + i) - h.lr * step, w + i)
                }, { i in
                    let gradient = decayed(g[i], w[i], h)
                    m[i] = h.beta1 * m[i] + (1 - h.beta1) * gradient
                    v[i] = h.beta2 * v[i] + (1 - h.beta2) * gradient * gradient
                    w[i] -= h.lr * (m[i] / h.correction1) / ((v[i] / h.correction2).squareRoot() + h.epsilon)
                })
            case .pytorchMomentum:
                let v = a!.base
                sweep(range, { i in
                    let velocity = h.mu * load(v + i) + decayed(g + i, w + i, h)
                    store(velocity, v + i)
                    store(load(w + i) - h.lr * velocity, w + i)
                }, { i in
                    v[i] = h.mu * v[i] + decayed(g[i], w[i], h)
                    w[i] -= h.lr * v[i]
                })
            case .pytorchNesterov:
                let v = a!.base
                sweep(range, { i in
                    let gradient = decayed(g + i, w + i, h)
                    let velocity = h.mu * load(v + i) + gradient
                    store(velocity, v + i)
                    store(load(w + i) - h.lr * (gradient + h.mu * velocity), w + i)
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
        h.weightDecay == 0 ? load(g) : load(g).addingProduct(h.weightDecay, load(w))
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

    @inlinable @inline(__always)
    static func load<S: TensorScalar>(_ p: UnsafePointer<S>) -> SIMD8<S> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self) }

    @inlinable @inline(__always)
    static func load<S: TensorScalar>(_ p: UnsafeMutablePointer<S>) -> SIMD8<S> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self) }

    @inlinable @inline(__always)
    static func store<S: TensorScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self)
    }
}
