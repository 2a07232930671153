"""Networks: the ResNet zoo, datasets, hardware-aware training, checkpoints and the layer graph."""
