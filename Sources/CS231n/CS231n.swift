// One import for the whole toolkit: `import CS231n`.
@_exported import CS231nTensor
@_exported import CS231nData
@_exported import CS231nClassifiers
@_exported import CS231nNN
@_exported import CS231nOptim
@_exported import CS231nCompression
@_exported import CS231nVisualize
@_exported import CS231nDistributed
