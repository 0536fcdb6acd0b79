import CS231nNN
