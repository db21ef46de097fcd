"""Video and motion capture to 3D skeleton gaits on the paper's ELMD-21 body."""
