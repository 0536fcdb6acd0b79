import CS231nClassifiers
import CS231nNN
import CS231nTensor

extension GradientCheckTarget {
    /// Every gradient check of the library, in the order `cs231n gradcheck all` runs them: the
    /// linear losses, the layers and kernels, then whole nets.
    public static var all: [GradientCheckTarget] { linearLosses + layers + nets }
}
