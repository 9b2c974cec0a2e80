"""Hash chain and Merkle checkpoints of the decision log (pure Python, no Django)."""
