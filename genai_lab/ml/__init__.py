"""Model code: loading the pretrained base model, embeddings, training and inference (torch imported inside functions)."""
