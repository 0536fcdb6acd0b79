// Users of the data module work with tensors throughout; one import brings both.
@_exported import CS231nTensor
