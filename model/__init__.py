"""The semi-supervised network of "Take an Emotion Walk": model, losses, training, evaluation."""
