"""The protocols: pretraining, sample-incremental, class-incremental and progressive learning."""
